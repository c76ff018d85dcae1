"""Owed work (the engine's rows): claim, lease, progress, release, finish.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from irbot.store.models import Incident, OutboxItem


async def add_outbox(item: OutboxItem, *, session: AsyncSession) -> int:
    session.add(item)
    await session.flush()
    assert item.id is not None
    return item.id


async def outbox_subject(item_id: int, *, session: AsyncSession,
                         apart: tuple[str, ...] = ()) -> tuple[Incident, str, bool] | None:
    """The item's incident, what the item is (``setup``, ``role_changed`` …), and whether an older
    item of the same incident is still pending (then this one should not overtake it). Work for
    other services, whose ``what`` starts with one of ``apart`` (``page`` → ``page:…``), keeps its
    order only among its own kind, and Slack's work never waits behind it."""
    other = aliased(OutboxItem)
    same_side = [col(OutboxItem.what).startswith(f"{p}:") == col(other.what).startswith(f"{p}:") for p in apart]
    older = select(other.id).where(other.incident_id == col(Incident.id), other.state == "pending",
                                   other.id < item_id, *same_side).exists()
    query = select(Incident, OutboxItem.what, older) \
        .join(OutboxItem, col(OutboxItem.incident_id) == col(Incident.id)).where(col(OutboxItem.id) == item_id)
    row = (await session.execute(query)).first()
    return (row[0], row[1], bool(row[2])) if row is not None else None


async def release_outbox(item_id: int, attempt: int, *, session: AsyncSession) -> None:
    """Give a held item back untried (its incident is not open yet): free for the next claim."""
    await session.execute(update(OutboxItem).where(col(OutboxItem.id) == item_id, col(OutboxItem.attempts) == attempt)
                          .values(lease_until=None, attempts=OutboxItem.attempts - 1))


def _outbox_free(now: datetime) -> Any:
    """Pending, and nobody's lease on it lasts."""
    return (col(OutboxItem.state) == "pending") & or_(col(OutboxItem.lease_until).is_(None),
                                                      col(OutboxItem.lease_until) < now)


async def claim_outbox(item_id: int, *, now: datetime, until: datetime, session: AsyncSession) -> OutboxItem | None:
    """Lease a pending item to one worker (none while another's lease lasts); counts the attempt."""
    result = await session.execute(
        update(OutboxItem).where(col(OutboxItem.id) == item_id, _outbox_free(now))
        .values(lease_until=until, attempts=OutboxItem.attempts + 1))
    if result.rowcount != 1:
        return None
    return (await session.execute(select(OutboxItem).where(col(OutboxItem.id) == item_id))).scalar_one()


async def outbox_step_done(item_id: int, attempt: int, done: int, *, until: datetime, session: AsyncSession) -> bool:
    result = await session.execute(
        update(OutboxItem).where(col(OutboxItem.id) == item_id, col(OutboxItem.attempts) == attempt)
        .values(done=done, lease_until=until, error=None))
    return result.rowcount == 1


async def renew_outbox(item_id: int, attempt: int, *, until: datetime, session: AsyncSession) -> bool:
    result = await session.execute(
        update(OutboxItem).where(col(OutboxItem.id) == item_id, col(OutboxItem.attempts) == attempt,
                                 col(OutboxItem.state) == "pending")
        .values(lease_until=until))
    return result.rowcount == 1


async def finish_outbox(item_id: int, attempt: int, *, state: str, error: str | None = None,
                        retry_at: datetime | None = None, session: AsyncSession) -> bool:
    """done/failed; or, with ``state="pending"``, give it back to be retried from ``retry_at``.

    A delivered item's steps are dropped: they hold what people wrote (updates, resolutions),
    which the timeline keeps under its own retention rules; a failed item keeps them for operators."""
    steps = {"steps": []} if state == "done" else {}
    result = await session.execute(
        update(OutboxItem).where(col(OutboxItem.id) == item_id, col(OutboxItem.attempts) == attempt)
        .values(state=state, error=error, lease_until=retry_at, **steps))
    return result.rowcount == 1


async def outbox_due(*, now: datetime, incident_id: int | None = None, session: AsyncSession,
                     only: str | None = None, skip: tuple[str, ...] = ()) -> list[int]:
    """Pending items nobody holds (of one incident, or all), oldest first; ``only``: those whose
    ``what`` starts with ``only:``; ``skip``: not those starting with one of these (and ``:``)."""
    query = select(OutboxItem.id).where(_outbox_free(now)).order_by(OutboxItem.id)
    if incident_id is not None:
        query = query.where(col(OutboxItem.incident_id) == incident_id)
    if only is not None:
        query = query.where(col(OutboxItem.what).startswith(f"{only}:"))
    for prefix in skip:
        query = query.where(~col(OutboxItem.what).startswith(f"{prefix}:"))
    return list((await session.execute(query)).scalars().all())


async def outbox_counts(*, session: AsyncSession) -> dict[str, int]:
    query = select(OutboxItem.state, func.count()).where(col(OutboxItem.state).in_(("pending", "failed"))) \
        .group_by(OutboxItem.state)
    return {state: count for state, count in (await session.execute(query)).all()}


async def forget_delivered_outbox(before: datetime, *, session: AsyncSession) -> None:
    """Delivered items are only history (the timeline keeps the facts); failed ones stay for operators."""
    await session.execute(delete(OutboxItem).where(col(OutboxItem.state) == "done",
                                                   col(OutboxItem.created_at) < before))
