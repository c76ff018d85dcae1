"""Alert groups, the alerts each has seen, and the counts the alert limits need.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import delete, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import AlertGroup, AlertSeen, Incident
from irbot.store.timeline import _insert_skipping_conflicts


async def alert_group(group_key: str, *, session: AsyncSession, lock: bool = False) -> AlertGroup | None:
    query = select(AlertGroup).where(AlertGroup.group_key == group_key)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def add_alert_group(group: AlertGroup, *, session: AsyncSession) -> bool:
    """False when another notification of the same group created it first."""
    try:
        async with session.begin_nested():
            session.add(group)
        return True
    except IntegrityError:
        return False


_FINGERPRINTS_PER_STATEMENT = 500  # well under SQLite's bound-parameter limit


# The advisory lock that makes replicas decide new alert groups in turn ("alrt"; the scheduler's
# leadership and the migrations use 726573 and 726572).
ALERT_GATE_LOCK = 0x616C7274


async def lock_alert_gate(*, session: AsyncSession) -> None:
    """PostgreSQL: held until the session's transaction ends, so replicas count and declare in turn
    (SQLite is one process, which takes turns by itself)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ALERT_GATE_LOCK})


async def known_fingerprints(group_key: str, fingerprints: Sequence[str], *, session: AsyncSession) -> set[str]:
    """Which of these the group has seen: indexed look-ups, a few hundred per statement."""
    known: set[str] = set()
    for start in range(0, len(fingerprints), _FINGERPRINTS_PER_STATEMENT):
        batch = fingerprints[start:start + _FINGERPRINTS_PER_STATEMENT]
        query = select(AlertSeen.fingerprint).where(col(AlertSeen.group_key) == group_key,
                                                    col(AlertSeen.fingerprint).in_(batch))
        known.update((await session.execute(query)).scalars().all())
    return known


async def remember_fingerprints(group_key: str, fingerprints: Sequence[str], *, session: AsyncSession) -> None:
    """Add to the group's seen set; one already there is skipped (a concurrent notification's)."""
    table = AlertSeen.__table__  # type: ignore[attr-defined]
    for start in range(0, len(fingerprints), _FINGERPRINTS_PER_STATEMENT):
        rows = [{"group_key": group_key, "fingerprint": f}
                for f in fingerprints[start:start + _FINGERPRINTS_PER_STATEMENT]]
        await session.execute(_insert_skipping_conflicts(session, table).values(rows))


async def alert_seen_count(group_key: str, *, session: AsyncSession) -> int:
    query = select(func.count()).select_from(AlertSeen).where(col(AlertSeen.group_key) == group_key)
    return (await session.execute(query)).scalar_one()


async def forget_fingerprints(group_key: str, *, session: AsyncSession) -> None:
    """A group starting a new incident tells it every alert afresh."""
    await session.execute(delete(AlertSeen).where(col(AlertSeen.group_key) == group_key))


def _from_source(prefix: str) -> Any:
    return col(Incident.source_key).startswith(prefix, autoescape=True)


async def count_open_from_source(prefix: str, *, session: AsyncSession) -> int:
    """Open incidents whose ``source_key`` starts with ``prefix`` (declared by a machine)."""
    query = select(func.count()).select_from(Incident).where(
        _from_source(prefix), col(Incident.status).not_in(("resolved", "closed")))
    return (await session.execute(query)).scalar_one()


async def count_declared_from_source(prefix: str, *, since: datetime, session: AsyncSession) -> int:
    query = select(func.count()).select_from(Incident).where(_from_source(prefix), col(Incident.declared_at) >= since)
    return (await session.execute(query)).scalar_one()


async def count_from_source(prefix: str, *, session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Incident).where(_from_source(prefix)))).scalar_one()


async def open_incident_from_source(prefix: str, *, session: AsyncSession) -> Incident | None:
    query = select(Incident).where(_from_source(prefix), col(Incident.status).not_in(("resolved", "closed"))) \
        .order_by(col(Incident.number).desc()).limit(1)
    return (await session.execute(query)).scalars().first()
