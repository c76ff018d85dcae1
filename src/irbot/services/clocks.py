"""Regulatory notification clocks: start, remind (half, three quarters, last hour), notify, miss.

Resolution does not stop a clock: a legal duty outlives the incident.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime

from irbot.deps import Deps
from irbot.domain.clocks import DEADLINE, Regulation, latest_point, next_point
from irbot.domain.permissions import may_keep_clocks
from irbot.domain.refusals import ClockRefused
from irbot.domain.roles import COMMANDER, LEGAL
from irbot.services import outbox, surfaces
from irbot.services.reminders import (
    CLOCK_PREFIX, Due, Fired, ReminderPlan, change, handle_clocks_with, holders_in, owe_reminder,
)
from irbot.services.roles import actors_for
from irbot.store import repo
from irbot.store.models import Incident, RegulatoryClock
from irbot.views.messages import clocks as messages
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)


async def start_clock(incident: Incident, regulation: Regulation, *, aware_at: datetime, actor: str | None,
                      deps: Deps, tell_channel: bool = False,
                      within: tuple[UnitOfWork, ReminderPlan] | None = None) -> RegulatoryClock | None:
    """Store the clock and plan its first reminder point still ahead; None if it already runs.

    ``tell_channel``: the channel is told and the card redrawn (a clock started from the declare
    form is on the card from the start). ``within``: a change under way that the clock is part of
    (the declaration that chose it), else the clock is a change of its own."""
    deadline = regulation.notify_within.after(aware_at, deps.settings.timezone)
    async with (nullcontext(within) if within else change(deps)) as (unit, plan):
        session = unit.session
        clock = await repo.add_clock(RegulatoryClock(
            incident_id=incident.id, regime=regulation.key, name=regulation.name, notify_whom=regulation.notify_whom,
            aware_at=aware_at, deadline=deadline, started_by=actor), session=session)
        if clock is None:
            return None
        await repo.add_event(incident.id, "clock_started", actor_id=actor, at=deps.clock(), session=session,
                             text=regulation.name, data={"regime": regulation.key, "aware_at": aware_at.isoformat(),
                                                         "deadline": deadline.isoformat()})
        upcoming = next_point(aware_at, deadline, deps.clock())
        if upcoming is not None:
            await plan.set(incident.id, CLOCK_PREFIX + regulation.key, upcoming[1], session=session)
        if tell_channel:
            told = messages.started(deps.renderer, clock=clock, actor=actor)
            await outbox.owe_message(unit, incident, "clock_started", told, redraw=True)
    return clock


async def require_clock_keeper(incident: Incident, actor: str, deps: Deps, *, legal_too: bool) -> None:
    actors = await actors_for(incident, actor, deps)
    legal_holder = (await surfaces.holders_of(incident.id, deps)).get(LEGAL) if legal_too else None
    if may_keep_clocks(actors, legal_holder=legal_holder, legal_too=legal_too):
        return
    raise ClockRefused("refuse", legal_too=legal_too, commander=actors.commander)


async def mark_notified(incident: Incident, regime: str, *, actor: str, reference: str, deps: Deps) -> RegulatoryClock:
    await require_clock_keeper(incident, actor, deps, legal_too=True)
    now = deps.clock()
    async with change(deps) as (unit, plan):
        session = unit.session
        clock = await repo.clock_of(incident.id, regime, session=session)
        if clock is None:
            raise ClockRefused("no_clock", regime=regime)
        if not await repo.mark_clock_notified(clock.id, by=actor, at=now, reference=reference, session=session):
            raise ClockRefused("already_notified", clock=clock)
        await repo.add_event(incident.id, "clock_notified", actor_id=actor, at=now, text=reference, session=session,
                             data={"regime": regime, "met": now <= clock.deadline})
        await plan.cancel(incident.id, [CLOCK_PREFIX + regime], session=session)
        clock = await repo.clock_of(incident.id, regime, session=session)
        await outbox.owe_message(unit, incident, "clock_notified", messages.notified(
            deps.renderer, clock=clock, actor=actor, met=now <= clock.deadline), redraw=True)
    return clock


async def place_legal_hold(incident: Incident, *, actor: str, deps: Deps) -> None:
    """Keep everything of the incident (deleted messages' text included) until the hold is lifted."""
    await require_clock_keeper(incident, actor, deps, legal_too=True)
    async with UnitOfWork(deps) as unit:
        session = unit.session
        stored = await repo.get_incident(incident.id, session=session)
        if stored is None or stored.legal_hold:
            raise ClockRefused("hold_already", incident=surfaces.facts_of(incident))
        await repo.update_incident(incident.id, legal_hold=True, session=session)
        await repo.add_event(incident.id, "legal_hold", actor_id=actor, at=deps.clock(), session=session,
                             dedupe_key="legal_hold")
        await outbox.owe_message(unit, incident, "legal_hold", messages.hold_started(
            deps.renderer, incident=surfaces.facts_of(incident), actor=actor))


async def fire_clock(incident: Incident, regime: str, due: Due, unit: UnitOfWork, deps: Deps) -> Fired:
    """One reminder for the latest point reached (several missed while down give one), then the next.
    Runs inside the reminder's firing transaction: what it records and owes commits with it."""
    now, session = deps.clock(), unit.session
    clock = await repo.clock_of(incident.id, regime, session=session)
    if clock is None or clock.notified_at is not None:
        return Fired(None, None)
    point = latest_point(clock.aware_at, clock.deadline, now)
    if point is None:
        upcoming = next_point(clock.aware_at, clock.deadline, now)
        return Fired(None, upcoming[1] if upcoming else None)
    holders = await holders_in(incident.id, session)
    who = holders.get(LEGAL) or holders.get(COMMANDER) or incident.declarer_id
    if point[0] == DEADLINE:
        await repo.add_event(incident.id, "clock_missed", at=now, text=clock.name, session=session,
                             data={"regime": clock.regime, "deadline": clock.deadline.isoformat()},
                             dedupe_key=f"missed:{clock.regime}")
        clock.missed = True
        message = surfaces.message_for(incident, messages.missed(deps.renderer, clock=clock, who=who), deps)
        return Fired(await owe_reminder(incident, message, due, unit, redraw=True), None, "clock_missed")
    text = messages.reminder(deps.renderer, clock=clock, who=who, point=point[0], left=clock.deadline - now)
    owed = await owe_reminder(incident, surfaces.message_for(incident, text, deps), due, unit)
    upcoming = next_point(clock.aware_at, clock.deadline, now)
    return Fired(owed, upcoming[1] if upcoming else None, f"clock_{point[0]}")


async def clocks(incident_id: int, deps: Deps) -> list[RegulatoryClock]:
    async with deps.db.session() as session:
        return await repo.clocks_of(incident_id, session=session)


handle_clocks_with(fire_clock)
