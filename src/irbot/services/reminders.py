"""Planning and firing reminders: update due, response target, review, post-mortem due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from irbot.deps import Deps
from irbot.domain.reminders import REVIEW_NUDGE_AFTER, REVIEW_WITHIN, ReminderKind, repeats, still_applies
from irbot.domain.roles import COMMANDER
from irbot.domain.status import Status
from irbot.services import surfaces
from irbot.slack import blocks
from irbot.store import repo
from irbot.store.models import Incident

log = logging.getLogger(__name__)
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


# A reminder handler posts what is due and says when the same kind is due next (None: no more).
Fired = tuple[bool, datetime | None]
ClockHandler = Callable[[int, str, "Due", Deps], Awaitable[Fired]]
CLOCK_PREFIX = "clock:"
_clock_handler: list[ClockHandler] = []


def handle_clocks_with(handler: ClockHandler) -> None:
    """services.clocks registers itself here (it imports this module, not the other way round)."""
    _clock_handler[:] = [handler]


async def fire_reminder(incident_id: int, kind: str, due_at: datetime, deps: Deps) -> None:
    """Post one reminder, exactly once, if its reason still holds; plan the next when it repeats."""
    now = deps.clock()
    async with deps.db.session() as session:
        claimed = await repo.claim_reminder(incident_id, kind, due_at, now=now, lease_until=now + FIRING_LEASE,
                                            session=session)
        await session.commit()
    if not claimed:
        return
    deps.metrics.reminder_lateness.observe(max((now - due_at).total_seconds(), 0.0))
    due = Due(incident_id, kind, due_at, retried=claimed > 1)
    if kind.startswith(CLOCK_PREFIX):
        posted, next_due = await _clock_handler[0](incident_id, kind[len(CLOCK_PREFIX):], due, deps)
    else:
        posted, next_due = await _fire_incident_reminder(incident_id, ReminderKind(kind), due, deps, now)
    plan = ReminderPlan(deps)
    async with deps.db.session() as session:
        await repo.finish_reminder(incident_id, kind, due_at, state="done" if posted else "cancelled",
                                   session=session)
        if next_due is not None:
            await plan.set(incident_id, kind, next_due, session=session)
        await session.commit()
    plan.apply()


async def _fire_incident_reminder(incident_id: int, reminder: ReminderKind, due: Due, deps: Deps,
                                  now: datetime) -> Fired:
    async with deps.db.session() as session:
        incident = await repo.get_incident(incident_id, session=session)
    holders = await surfaces.holders_of(incident_id, deps) if incident else {}
    applies = incident is not None and incident.channel_id is not None and still_applies(
        reminder, Status(incident.status), has_commander=bool(holders.get(COMMANDER)))
    if not applies:
        return False, None
    await _post(incident, reminder, holders, due, deps)
    return True, _next_due(reminder, incident, deps, now) if repeats(reminder) else None


def _next_due(kind: ReminderKind, incident: Incident, deps: Deps, now: datetime) -> datetime:
    if kind == ReminderKind.STAKEHOLDER_SUMMARY:
        return summary_due_after(incident, deps, now)
    return update_due_after(incident, deps, now)


REMINDER_EVENT = "irbot_reminder"


@dataclass(frozen=True)
class Due:
    """A reminder being fired. ``retried``: a process that claimed this due time before died; if
    its post reached Slack, it is there with this reminder's metadata and is not posted again."""

    incident_id: int
    kind: str
    at: datetime
    retried: bool = False

    @property
    def mark(self) -> dict:
        return {"event_type": REMINDER_EVENT,
                "event_payload": {"incident_id": self.incident_id, "kind": self.kind, "due_at": self.at.isoformat()}}


async def post_reminder(incident: Incident, message: blocks.Message, due: Due, deps: Deps, *,
                        channel: str | None = None, thread_ts: str | None = None) -> None:
    """Post a fired reminder (in the incident's channel unless told otherwise), marked as itself."""
    channel = channel or incident.channel_id
    assert channel is not None
    await surfaces.post_once(channel, message, due.mark, deps, thread_ts=thread_ts,
                             look_since=due.at if due.retried else None)


async def _post(incident: Incident, kind: ReminderKind, holders: dict[str, str | None], due: Due, deps: Deps) -> None:
    if kind == ReminderKind.STAKEHOLDER_SUMMARY:
        await _post_summary(incident, holders, due, deps)
        deps.metrics_reminder(kind.value)
        return
    severity = deps.settings.severity(incident.severity)
    who = holders.get(COMMANDER) or incident.declarer_id
    group = None if incident.drill else deps.settings.escalation_usergroup
    text = deps.renderer.part("reminders.j2", kind.value, incident=surfaces.facts_of(incident), severity=severity,
                              who=who, group=group, review_by=(incident.resolved_at or due.at) + REVIEW_WITHIN)
    message = blocks.reminder(text, with_update_button=kind == ReminderKind.UPDATE_DUE, renderer=deps.renderer)
    await post_reminder(incident, message, due, deps)
    log.info("%s reminder posted for INC-%d", kind.value, incident.number)
    deps.metrics_reminder(kind.value)


async def _post_summary(incident: Incident, holders: dict[str, str | None], due: Due, deps: Deps) -> None:
    """In the announcement thread; a private incident's summary stays in its own channel."""
    async with deps.db.session() as session:
        updates = await repo.events_of(incident.id, kinds=["update"], session=session)
    roles = [{"name": role.name, "holder": holders.get(role.key)} for role in deps.settings.roles]
    text = deps.renderer.part("reminders.j2", "stakeholder_summary", incident=surfaces.facts_of(incident),
                              severity=deps.settings.severity(incident.severity), roles=roles,
                              latest=updates[-1].text if updates else None,
                              since=deps.clock() - incident.declared_at)
    message = surfaces.message_for(incident, text, deps)
    if not incident.private and incident.announce_channel_id and incident.announce_ts:
        await post_reminder(incident, message, due, deps, channel=incident.announce_channel_id,
                            thread_ts=incident.announce_ts)
    else:
        await post_reminder(incident, message, due, deps)
