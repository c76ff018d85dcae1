"""Regulatory notification clocks.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import RegulatoryClock


async def add_clock(clock: RegulatoryClock, *, session: AsyncSession) -> RegulatoryClock | None:
    """None when this regulation's clock already runs for the incident."""
    try:
        async with session.begin_nested():
            session.add(clock)
        return clock
    except IntegrityError:
        return None


async def clocks_of(incident_id: int, *, session: AsyncSession) -> list[RegulatoryClock]:
    query = select(RegulatoryClock).where(RegulatoryClock.incident_id == incident_id).order_by(RegulatoryClock.id)
    return list((await session.execute(query)).scalars().all())


async def clock_of(incident_id: int, regime: str, *, session: AsyncSession) -> RegulatoryClock | None:
    query = select(RegulatoryClock).where(RegulatoryClock.incident_id == incident_id,
                                          RegulatoryClock.regime == regime)
    return (await session.execute(query)).scalars().first()


async def mark_clock_notified(clock_id: int, *, by: str, at: datetime, reference: str,
                              session: AsyncSession) -> bool:
    """Only the first notification counts (a double click changes nothing)."""
    result = await session.execute(
        update(RegulatoryClock).where(col(RegulatoryClock.id) == clock_id, col(RegulatoryClock.notified_at).is_(None))
        .values(notified_at=at, notified_by=by, reference=reference))
    return result.rowcount == 1
