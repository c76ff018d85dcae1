"""Planning and firing reminders: update due, response target, review, post-mortem due."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AsyncIterator, Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from irbot.deps import Deps
from irbot.domain.reminders import REVIEW_NUDGE_AFTER, REVIEW_WITHIN, ReminderKind, repeats, still_applies
from irbot.domain.roles import COMMANDER
from irbot.domain.status import Status
from irbot.services import outbox, paging, surfaces
from irbot.views import blocks
from irbot.views.messages import reminders as messages
from irbot.store import repo
from irbot.store.models import Incident, OutboxItem
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)
# Taking a reminder and owing its post commit together, so "firing" is never seen by others; the
# lease only frees rows an older irbot left "firing" (it posted outside the transaction).
FIRING_LEASE = timedelta(minutes=2)
OPEN_KINDS = (ReminderKind.UPDATE_DUE, ReminderKind.RESPONSE_TARGET, ReminderKind.STAKEHOLDER_SUMMARY)
RESOLVED_KINDS = (ReminderKind.REVIEW, ReminderKind.POSTMORTEM_DUE)


class ReminderPlan:
    """Reminder rows written inside the caller's transaction; jobs added once it is committed."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._planned: list[tuple[int, str, datetime]] = []
        self._cancelled: list[tuple[int, str]] = []

    async def set(self, incident_id: int, kind: str, due_at: datetime, *, session: AsyncSession) -> None:
        await repo.set_reminder(incident_id, kind, due_at, session=session)
        self._planned.append((incident_id, kind, due_at))

    async def cancel(self, incident_id: int, kinds: Sequence[ReminderKind], *, session: AsyncSession) -> None:
        await repo.cancel_reminders(incident_id, list(kinds), session=session)
        self._cancelled.extend((incident_id, kind) for kind in kinds)

    def apply(self) -> None:
        scheduler = self.deps.scheduler
        if scheduler is None:
            return
        for incident_id, kind in self._cancelled:
            scheduler.cancel(incident_id, kind)
        for incident_id, kind, due_at in self._planned:
            scheduler.plan(incident_id, kind, due_at)


@asynccontextmanager
async def change(deps: Deps) -> AsyncIterator[tuple[UnitOfWork, ReminderPlan]]:
    """A unit of work whose reminder plan's jobs are set once it has committed."""
    async with UnitOfWork(deps) as unit:
        plan = ReminderPlan(deps)
        unit.after_commit(plan.apply)
        yield unit, plan


def update_due_after(incident: Incident, deps: Deps, since: datetime) -> datetime:
    severity = deps.settings.severity(incident.severity)
    return max(severity.update_every.after(since, deps.settings.timezone), deps.clock())


async def plan_declared(plan: ReminderPlan, incident: Incident, *, session: AsyncSession) -> None:
    deps = plan.deps
    severity = deps.settings.severity(incident.severity)
    await plan.set(incident.id, ReminderKind.UPDATE_DUE, update_due_after(incident, deps, incident.declared_at),
                   session=session)
    respond_by = severity.respond_within.after(incident.declared_at, deps.settings.timezone)
    await plan.set(incident.id, ReminderKind.RESPONSE_TARGET, respond_by, session=session)
    await plan.set(incident.id, ReminderKind.STAKEHOLDER_SUMMARY, summary_due_after(incident, deps, incident.declared_at),
                   session=session)


def summary_due_after(incident: Incident, deps: Deps, since: datetime) -> datetime:
    severity = deps.settings.severity(incident.severity)
    return max(severity.stakeholder_every.after(since, deps.settings.timezone), deps.clock())


async def plan_resolved(plan: ReminderPlan, incident: Incident, resolved_at: datetime, *,
                        session: AsyncSession) -> None:
    deps = plan.deps
    await plan.cancel(incident.id, OPEN_KINDS, session=session)
    await plan.set(incident.id, ReminderKind.REVIEW, resolved_at + REVIEW_NUDGE_AFTER, session=session)
    due = deps.settings.postmortem_due.after(resolved_at, deps.settings.timezone)
    await plan.set(incident.id, ReminderKind.POSTMORTEM_DUE, due, session=session)


# A reminder handler owes what is due (inside the firing transaction) and says when the same kind
# is due next (None: no more). ``owed`` is None when the reminder no longer applies.
@dataclass(frozen=True)
class Fired:
    owed: OutboxItem | None
    next_due: datetime | None
    metric: str = ""


ClockHandler = Callable[[Incident, str, "Due", UnitOfWork, Deps], Awaitable[Fired]]
CLOCK_PREFIX = "clock:"
_clock_handler: list[ClockHandler] = []


def handle_clocks_with(handler: ClockHandler) -> None:
    """services.clocks registers itself here (it imports this module, not the other way round)."""
    _clock_handler[:] = [handler]


async def fire_reminder(incident_id: int, kind: str, due_at: datetime, deps: Deps) -> None:
    """Owe one reminder, exactly once, if its reason still holds; plan the next when it repeats.

    Taking the due time, owing the post and planning the next are one transaction: a process that
    dies before the commit leaves the reminder due, one that dies after leaves the post owed, and
    the engine delivers it (looking for it in Slack first if a worker died while posting)."""
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        if not await repo.claim_reminder(incident_id, kind, due_at, now=now, lease_until=now + FIRING_LEASE,
                                         session=session):
            return
        due = Due(incident_id, kind, due_at)
        incident = await repo.get_incident(incident_id, session=session)
        if incident is None or incident.channel_id is None:
            fired = Fired(None, None)
        elif kind.startswith(CLOCK_PREFIX):
            fired = await _clock_handler[0](incident, kind[len(CLOCK_PREFIX):], due, unit, deps)
        else:
            fired = await _owe_incident_reminder(incident, ReminderKind(kind), due, unit, deps, now)
        await repo.finish_reminder(incident_id, kind, due_at, state="done" if fired.owed else "cancelled",
                                   session=session)
        if fired.next_due is not None:
            await plan.set(incident_id, kind, fired.next_due, session=session)
    deps.metrics.reminder_lateness.observe(max((now - due_at).total_seconds(), 0.0))
    if fired.owed is not None:
        deps.metrics_reminder(fired.metric or kind)
        log.info("%s reminder owed for INC-%d", kind, incident.number if incident else 0)


async def holders_in(incident_id: int, session: AsyncSession) -> dict[str, str | None]:
    return {key: row.user_id for key, row in (await repo.roles_of(incident_id, session=session)).items()}


async def _owe_incident_reminder(incident: Incident, reminder: ReminderKind, due: Due, unit: UnitOfWork,
                                 deps: Deps, now: datetime) -> Fired:
    holders = await holders_in(due.incident_id, unit.session)
    if not still_applies(reminder, Status(incident.status), has_commander=bool(holders.get(COMMANDER))):
        return Fired(None, None)
    if reminder == ReminderKind.STAKEHOLDER_SUMMARY:
        owed = await _owe_summary(incident, holders, due, unit)
    else:
        severity = deps.settings.severity(incident.severity)
        who = holders.get(COMMANDER) or incident.declarer_id
        group = None if incident.drill else deps.settings.escalation_usergroup
        message = messages.reminder(deps.renderer, reminder, incident=surfaces.facts_of(incident), severity=severity,
                                    who=who, group=group, review_by=(incident.resolved_at or due.at) + REVIEW_WITHIN)
        owed = await owe_reminder(incident, message, due, unit)
        if reminder == ReminderKind.RESPONSE_TARGET:
            await paging.owe_escalation(incident, unit)
    return Fired(owed, _next_due(reminder, incident, deps, now) if repeats(reminder) else None)


def _next_due(kind: ReminderKind, incident: Incident, deps: Deps, now: datetime) -> datetime:
    if kind == ReminderKind.STAKEHOLDER_SUMMARY:
        return summary_due_after(incident, deps, now)
    return update_due_after(incident, deps, now)


REMINDER_EVENT = "irbot_reminder"


@dataclass(frozen=True)
class Due:
    """A reminder being fired; its posts carry its own mark, so a retried delivery finds them."""

    incident_id: int
    kind: str
    at: datetime

    @property
    def mark(self) -> dict:
        return {"event_type": REMINDER_EVENT,
                "event_payload": {"incident_id": self.incident_id, "kind": self.kind, "due_at": self.at.isoformat()}}


async def owe_reminder(incident: Incident, message: blocks.Message, due: Due, unit: UnitOfWork, *,
                       to: str = outbox.CHANNEL, redraw: bool = False) -> OutboxItem:
    """Owe the reminder's post (in the incident's channel unless told otherwise), marked as itself."""
    assert incident.id is not None
    steps = [outbox.post(message, to=to, mark=due.mark, wave=0), *([outbox.refresh(wave=0)] if redraw else [])]
    return await unit.owe(incident.id, f"reminder:{due.kind}", steps)


async def _owe_summary(incident: Incident, holders: dict[str, str | None], due: Due, unit: UnitOfWork) -> OutboxItem:
    """In the announcement thread; a private incident's summary stays in its own channel."""
    deps = unit.deps
    updates = await repo.events_of(incident.id, kinds=["update"], session=unit.session)
    roles = [{"name": role.name, "holder": holders.get(role.key)} for role in deps.settings.roles]
    text = messages.stakeholder_summary(deps.renderer, incident=surfaces.facts_of(incident),
                                        severity=deps.settings.severity(incident.severity), roles=roles,
                                        latest=updates[-1].text if updates else None,
                                        since=deps.clock() - incident.declared_at)
    message = surfaces.message_for(incident, text, deps)
    announced = not incident.private and incident.announce_channel_id and incident.announce_ts
    return await owe_reminder(incident, message, due, unit, to=outbox.STAKEHOLDERS if announced else outbox.CHANNEL)
