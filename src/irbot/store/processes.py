"""Processes: heartbeats (when irbot listened) and claimed deliveries (repeats have one effect).
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from irbot.store.db import insert_with_conflicts
from irbot.store.models import Delivery, Heartbeat


async def beat(process_id: str, *, started_at: datetime, now: datetime, session: AsyncSession,
               stopped: bool = False) -> None:
    result = await session.execute(update(Heartbeat).where(col(Heartbeat.process_id) == process_id)
                                   .values(last_seen=now, stopped=stopped))
    if not result.rowcount:
        session.add(Heartbeat(process_id=process_id, started_at=started_at, last_seen=now, stopped=stopped))


async def heartbeats_since(since: datetime, *, session: AsyncSession) -> list[Heartbeat]:
    rows = await session.execute(select(Heartbeat).where(col(Heartbeat.last_seen) >= since))
    return list(rows.scalars().all())


async def claim_delivery(key: str, *, now: datetime, connection: AsyncConnection) -> bool:
    """True for the first delivery of ``key``; False for a repeat (any process).

    One INSERT … ON CONFLICT DO NOTHING on a bare connection: it is on every request's path before
    the ack, so no ORM unit of work and no savepoint.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    statement = (insert_with_conflicts(connection.dialect.name, table).values(key=key, received_at=now)
                 .on_conflict_do_nothing(index_elements=[table.c.key]).returning(table.c.key))
    return (await connection.execute(statement)).first() is not None


async def release_delivery(key: str, *, session: AsyncSession) -> None:
    await session.execute(delete(Delivery).where(col(Delivery.key) == key))


async def forget_deliveries(before: datetime, *, session: AsyncSession) -> None:
    await session.execute(delete(Delivery).where(col(Delivery.received_at) < before))
