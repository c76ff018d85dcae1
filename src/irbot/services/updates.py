"""Status updates, status and severity changes, resolution.

Each change is one unit of work (incident row, timeline event, reminder plan, the Slack side it
owes — channel message, stakeholder thread, card, topic, announcement — and its webhooks),
delivered once it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable
from datetime import datetime

from irbot.deps import Deps
from irbot.domain.permissions import may_command
from irbot.domain.refusals import NotAllowed
from irbot.domain.reminders import ReminderKind
from irbot.domain.severities import Severity, is_upgrade
from irbot.domain.status import Status, TransitionError, check_transition
from irbot.services import outbox, paging, responders, status_page, surfaces, webhooks
from irbot.services.reminders import (
    RESOLVED_KINDS, ReminderPlan, change, plan_declared, plan_resolved, summary_due_after, update_due_after,
)
from irbot.services.roles import actors_for
from irbot.store import repo
from irbot.store.models import Incident, OutboxItem
from irbot.views.messages import updates as messages
from irbot.work.unit import UnitOfWork

# A function of views.messages.updates with all but the renderer, the incident and its severity given.
Words = Callable[..., str]


@dataclass(frozen=True)
class Update:
    text: str
    status: Status
    next_update: datetime | None = None
    source_key: str | None = None  # the form's view id: the same form submitted twice posts once
    public_text: str | None = None  # also posted on the status page (its own words, never ``text``)


async def require_commander(incident: Incident, actor: str, deps: Deps) -> None:
    actors = await actors_for(incident, actor, deps)
    if not may_command(actors):
        raise NotAllowed("refuse_command", commander=actors.commander, declarer=incident.declarer_id)


def check_status_change(incident: Incident, new: Status) -> None:
    """Raises TransitionError; resolving goes through :func:`resolve` (it needs a summary)."""
    check_transition(Status(incident.status), new)


async def post_update(incident: Incident, update: Update, *, actor: str, deps: Deps) -> Incident:
    """Anyone may post an update; changing the status with it needs the commander."""
    old = Status(incident.status)
    if update.status != old:
        await require_commander(incident, actor, deps)
        check_status_change(incident, update.status)
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        recorded = await repo.add_event(incident.id, "update", actor_id=actor, text=update.text, at=now,
                                        session=session, dedupe_key=update.source_key,
                                        data={"status": update.status.value, "previous_status": old.value})
        if recorded is None:
            return incident  # this form was already posted
        if update.status == old:
            await repo.update_incident(incident.id, session=session, last_update_at=now)
        else:
            await _set_status(incident.id, old, update.status, session=session, last_update_at=now)
            await _record_status(incident.id, old, update.status, actor, now, session=session)
        incident = await repo.get_incident(incident.id, session=session)
        await _replan_updates(plan, incident, since=now, requested=update.next_update, session=session)
        await _announce(incident, "update", unit, partial(messages.update, actor=actor, text=update.text, previous=old))
        if update.public_text:
            await status_page.post_public_update(unit, incident, update.public_text, actor=actor,
                                                 source_key=update.source_key)
        if update.status != old:
            await webhooks.owe("status_changed", incident, unit)
    return incident


async def change_status(incident: Incident, new: Status, *, actor: str, deps: Deps) -> Incident:
    await require_commander(incident, actor, deps)
    old = Status(incident.status)
    check_status_change(incident, new)
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        values: dict[str, object] = {"last_update_at": now}
        if old == Status.RESOLVED and new == Status.INVESTIGATING:
            values["resolved_at"] = None
            await plan.cancel(incident.id, RESOLVED_KINDS, session=session)
        if new == Status.CLOSED:
            await plan.cancel(incident.id, RESOLVED_KINDS, session=session)
        await _set_status(incident.id, old, new, session=session, **values)
        await _record_status(incident.id, old, new, actor, now, session=session)
        incident = await repo.get_incident(incident.id, session=session)
        if new.is_open:
            await _replan_updates(plan, incident, since=now, session=session)
        await _announce(incident, "status_changed", unit, partial(messages.status_changed, actor=actor, previous=old))
        await webhooks.owe("status_changed", incident, unit)
        if old == Status.RESOLVED and new == Status.INVESTIGATING:
            await paging.owe_reopened(incident, unit)
    return incident


async def change_severity(incident: Incident, severity: Severity, *, actor: str, deps: Deps,
                          reason: str = "", details: dict | None = None) -> Incident | None:
    """None when nothing changes (the same level chosen again)."""
    await require_commander(incident, actor, deps)
    if severity.key == incident.severity:
        return None
    old = deps.settings.severity(incident.severity)
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        await repo.update_incident(incident.id, session=session, severity=severity.key)
        await repo.add_event(incident.id, "severity_changed", actor_id=actor, at=now, session=session,
                             text=reason, data={"from": old.key, "to": severity.key, **(details or {})})
        incident = await repo.get_incident(incident.id, session=session)
        if Status(incident.status).is_open:
            await _replan_updates(plan, incident, since=incident.last_update_at or incident.declared_at,
                                  session=session)
            await plan.set(incident.id, ReminderKind.STAKEHOLDER_SUMMARY, summary_due_after(incident, deps, now),
                           session=session)
        escalate = is_upgrade(old, severity) and severity.rank <= 2 and not incident.drill
        await _announce(incident, "severity_changed", unit, partial(
            messages.severity_changed, actor=actor, old_severity=old, reason=reason,
            group=deps.settings.escalation_usergroup if escalate else None))
        await webhooks.owe("severity_changed", incident, unit)
        if is_upgrade(old, severity):
            await paging.owe_severity_raised(incident, unit)
            await responders.owe_invites(incident, unit, previous_severity=old.key)
    return incident


async def resolve(incident: Incident, summary: str, *, actor: str, deps: Deps,
                  public_text: str | None = None) -> Incident:
    """A published incident also gets its public "Resolved" entry (``public_text``, else a default)."""
    await require_commander(incident, actor, deps)
    old = Status(incident.status)
    check_status_change(incident, Status.RESOLVED)
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        await _set_status(incident.id, old, Status.RESOLVED, session=session, resolved_at=now, resolution=summary,
                          last_update_at=now)
        await _record_status(incident.id, old, Status.RESOLVED, actor, now, session=session, text=summary)
        incident = await repo.get_incident(incident.id, session=session)
        await plan_resolved(plan, incident, now, session=session)
        await status_page.post_resolved(unit, incident, public_text, actor=actor)
        await _announce(incident, "resolved", unit, partial(messages.resolved, actor=actor, text=summary, previous=old))
        await webhooks.owe("status_changed", incident, unit)
        await webhooks.owe("resolved", incident, unit)
        await paging.owe_resolved(incident, unit)
    return incident


async def open_for_business(incident: Incident, unit: UnitOfWork) -> None:
    """Once an incident is open in Slack, its update and response-target clocks start and the
    webhooks hear of it (in the unit that records the incident open)."""
    plan = ReminderPlan(unit.deps)
    unit.after_commit(plan.apply)
    await plan_declared(plan, incident, session=unit.session)
    await webhooks.owe("declared", incident, unit)
    await paging.owe_declared(incident, unit)
    await responders.owe_invites(incident, unit)


async def _set_status(incident_id: int, old: Status, new: Status, *, session, **values: object) -> None:  # noqa: ANN001
    """Move the status only from the one the change was checked against (two resolves: one wins)."""
    if not await repo.transition_status(incident_id, old.value, new.value, session=session, **values):
        raise TransitionError("changed_meanwhile")


async def _replan_updates(plan: ReminderPlan, incident: Incident, *, since: datetime, session,  # noqa: ANN001
                          requested: datetime | None = None) -> None:
    due = update_due_after(incident, plan.deps, since) if requested is None else max(requested, plan.deps.clock())
    await plan.set(incident.id, ReminderKind.UPDATE_DUE, due, session=session)


async def _record_status(incident_id: int, old: Status, new: Status, actor: str, at: datetime, *, session,  # noqa: ANN001
                         text: str = "") -> None:
    await repo.add_event(incident_id, "status_changed", actor_id=actor, at=at, session=session, text=text,
                         data={"from": old.value, "to": new.value})


async def _announce(incident: Incident, what: str, unit: UnitOfWork, words: Words) -> OutboxItem:
    """Owe the channel a message (``words`` of the incident as it is now) and a redraw of card, topic
    and announcement at once, then the stakeholders' thread the same message."""
    deps = unit.deps
    facts = surfaces.facts_of(incident)
    severity = deps.settings.severity(incident.severity)
    text = words(deps.renderer, incident=facts, severity=severity)
    steps = [outbox.post(surfaces.message_for(incident, text, deps), wave=0), outbox.refresh(wave=0)]
    if incident.announce_ts and incident.announce_channel_id and not incident.private:
        stakeholder = messages.for_stakeholders(deps.renderer, incident=facts, severity=severity, told=text)
        steps.append(outbox.post(surfaces.message_for(incident, stakeholder, deps), to=outbox.STAKEHOLDERS))
    assert incident.id is not None
    return await unit.owe(incident.id, what, steps)

def status_choices(current: Status) -> list[tuple[str, str]]:
    """The statuses an update may move to from ``current`` (current first), resolved excluded."""
    choices = [(current.value, current.label)]
    for status in Status:
        if status in (current, Status.RESOLVED, Status.CLOSED):
            continue
        try:
            check_transition(current, status)
        except TransitionError:
            continue
        choices.append((status.value, status.label))
    return choices
