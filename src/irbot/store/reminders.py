"""Reminders: the row per (incident, kind) that makes each fire once.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import Reminder


async def set_reminder(incident_id: int, kind: str, due_at: datetime, *, session: AsyncSession) -> None:
    """Make ``due_at`` the next reminder of this kind (replacing any earlier plan)."""
    values = {"due_at": due_at, "state": "pending", "lease_until": None, "tries": 0}
    result = await session.execute(
        update(Reminder).where(col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind).values(**values))
    if result.rowcount:
        return
    try:
        async with session.begin_nested():
            session.add(Reminder(incident_id=incident_id, kind=kind, **values))
    except IntegrityError:  # created meanwhile by another process: update theirs
        await session.execute(update(Reminder).where(
            col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind).values(**values))


async def cancel_reminders(incident_id: int, kinds: Sequence[str], *, session: AsyncSession) -> None:
    await session.execute(
        update(Reminder).where(col(Reminder.incident_id) == incident_id, col(Reminder.kind).in_(kinds),
                               col(Reminder.state).in_(("pending", "firing")))
        .values(state="cancelled", lease_until=None))


async def claim_reminder(incident_id: int, kind: str, due_at: datetime, *, now: datetime, lease_until: datetime,
                         session: AsyncSession) -> int:
    """pending → firing for exactly one caller; a stale "firing" (its process died) may be retaken.

    Returns how many times this due time has been claimed, this claim included; 0: not claimed."""
    stale = (col(Reminder.state) == "firing") & (col(Reminder.lease_until) < now)
    this = (col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind, col(Reminder.due_at) == due_at)
    result = await session.execute(
        update(Reminder).where(*this, or_(col(Reminder.state) == "pending", stale))
        .values(state="firing", lease_until=lease_until, tries=Reminder.tries + 1))
    if result.rowcount != 1:
        return 0
    return int((await session.execute(select(Reminder.tries).where(*this))).scalar_one())


async def finish_reminder(incident_id: int, kind: str, due_at: datetime, *, state: str,
                          session: AsyncSession) -> None:
    """firing → done/cancelled, unless a newer plan replaced the row meanwhile."""
    await session.execute(
        update(Reminder)
        .where(col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind,
               col(Reminder.due_at) == due_at, col(Reminder.state) == "firing")
        .values(state=state, lease_until=None, fired=Reminder.fired + (1 if state == "done" else 0)))


async def release_firing_reminders(*, session: AsyncSession) -> None:
    """firing -> pending for every reminder: only for a scheduler that has just become the only active one."""
    await session.execute(update(Reminder).where(col(Reminder.state) == "firing")
                          .values(state="pending", lease_until=None))


async def due_reminders(*, now: datetime, session: AsyncSession) -> list[Reminder]:
    """Reminders that should have fired by ``now`` (pending), or whose firing process died."""
    pending_due = (col(Reminder.state) == "pending") & (col(Reminder.due_at) <= now)
    stale = (col(Reminder.state) == "firing") & (col(Reminder.lease_until) < now)
    query = select(Reminder).where(or_(pending_due, stale)).order_by(Reminder.due_at)
    return list((await session.execute(query)).scalars().all())


async def pending_reminders(*, session: AsyncSession) -> list[Reminder]:
    query = select(Reminder).where(col(Reminder.state) == "pending").order_by(Reminder.due_at)
    return list((await session.execute(query)).scalars().all())
