"""Incidents: numbering, lookups, the status compare-and-set, role holders.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import Counter, Incident, IncidentRole, OutboxItem, utcnow


INCIDENT_COUNTER = "incident"


async def next_incident_number(*, session: AsyncSession) -> int:
    """Increment the counter row; its lock serialises concurrent declares, so numbers have no gaps."""
    result = await session.execute(
        update(Counter).where(col(Counter.name) == INCIDENT_COUNTER)
        .values(value=Counter.value + 1).returning(Counter.value)
    )
    value = result.scalar_one_or_none()
    if value is not None:
        return value
    try:
        async with session.begin_nested():
            highest = (await session.execute(select(func.max(Incident.number)))).scalar_one_or_none() or 0
            session.add(Counter(name=INCIDENT_COUNTER, value=highest + 1))
        return highest + 1
    except IntegrityError:  # another process created the row first: increment theirs
        return await next_incident_number(session=session)


async def add_incident(incident: Incident, role_keys: Sequence[str], *, session: AsyncSession) -> Incident:
    incident.number = await next_incident_number(session=session)
    session.add(incident)
    await session.flush()
    for key in role_keys:
        session.add(IncidentRole(incident_id=incident.id, role_key=key))
    return incident


async def incident_by_source(source_key: str, *, session: AsyncSession) -> Incident | None:
    return (await session.execute(select(Incident).where(Incident.source_key == source_key))).scalars().first()


async def get_incident(incident_id: int, *, session: AsyncSession) -> Incident | None:
    return await session.get(Incident, incident_id)


async def incident_by_number(number: int, *, session: AsyncSession) -> Incident | None:
    return (await session.execute(select(Incident).where(Incident.number == number))).scalars().first()


async def incident_by_channel(channel_id: str, *, session: AsyncSession) -> Incident | None:
    return (await session.execute(select(Incident).where(Incident.channel_id == channel_id))).scalars().first()


async def incident_id_by_channel(channel_id: str, *, session: AsyncSession) -> int | None:
    table = Incident.__table__  # type: ignore[attr-defined]
    return (await session.execute(select(table.c.id).where(table.c.channel_id == channel_id).limit(1))).scalar()


async def incidents_in_setup_owing_nothing(*, session: AsyncSession) -> list[Incident]:
    """Incidents still "opening" whose set-up is not owed (declared before set-ups were owed work)."""
    owed = select(OutboxItem.incident_id).where(col(OutboxItem.what) == "setup",
                                                col(OutboxItem.state) == "pending")
    query = select(Incident).where(col(Incident.setup) == "opening", col(Incident.id).not_in(owed))
    return list((await session.execute(query)).scalars().all())


async def incidents_to_reconcile(*, resolved_since: datetime, session: AsyncSession) -> list[Incident]:
    """Set-up incidents whose Slack surfaces may still change: open, or resolved since ``resolved_since``."""
    live = col(Incident.status).not_in(("resolved", "closed"))
    recent = (col(Incident.status) == "resolved") & (col(Incident.resolved_at) >= resolved_since)
    query = select(Incident).where(col(Incident.setup) == "open", or_(live, recent)).order_by(Incident.number)
    return list((await session.execute(query)).scalars().all())


async def claim_postmortem(incident_id: int, *, now: datetime, until: datetime, session: AsyncSession) -> bool:
    """Take the post-mortem's compile lease unless a live compile (any process) holds it."""
    lease = col(Incident.postmortem_lease_until)
    result = await session.execute(update(Incident).where(col(Incident.id) == incident_id,
                                                          or_(lease.is_(None), lease < now))
                                   .values(postmortem_lease_until=until))
    return result.rowcount == 1


async def incidents_to_backfill(*, resolved_since: datetime, session: AsyncSession) -> list[Incident]:
    """Incidents with a channel whose record may lack what was said while irbot was away: open, or
    resolved since ``resolved_since``."""
    live = col(Incident.status).not_in(("resolved", "closed"))
    query = (select(Incident).where(col(Incident.channel_id).is_not(None),
                                    or_(live, col(Incident.resolved_at) >= resolved_since))
             .order_by(Incident.number))
    return list((await session.execute(query)).scalars().all())


async def open_incidents(*, session: AsyncSession) -> list[Incident]:
    query = select(Incident).where(col(Incident.status).not_in(("resolved", "closed"))).order_by(Incident.number)
    return list((await session.execute(query)).scalars().all())


async def open_by_severity(*, session: AsyncSession) -> dict[str, int]:
    """Open (not resolved, not closed) non-drill incidents per severity, counted in SQL."""
    query = (select(Incident.severity, func.count()).where(col(Incident.status).not_in(("resolved", "closed")),
                                                           col(Incident.drill).is_(False))
             .group_by(Incident.severity))
    return {severity: count for severity, count in (await session.execute(query)).all()}


async def update_incident(incident_id: int, *, session: AsyncSession, **values: Any) -> None:
    await session.execute(update(Incident).where(col(Incident.id) == incident_id).values(**values))


async def roles_of(incident_id: int, *, session: AsyncSession) -> dict[str, IncidentRole]:
    rows = await session.execute(select(IncidentRole).where(IncidentRole.incident_id == incident_id))
    return {row.role_key: row for row in rows.scalars().all()}


async def set_role_holder(
    incident_id: int, role_key: str, user_id: str, *, expected: str | None, by: str, session: AsyncSession
) -> bool:
    """Compare-and-set: the holder becomes ``user_id`` only if it is still ``expected``.

    Two people racing for the same role both run this; the database lets exactly one win, on
    SQLite and on PostgreSQL across processes alike.
    """
    holder = IncidentRole.user_id
    condition = holder.is_(None) if expected is None else holder == expected  # type: ignore[union-attr]
    await _ensure_role_row(incident_id, role_key, session=session)
    result = await session.execute(
        update(IncidentRole)
        .where(col(IncidentRole.incident_id) == incident_id, col(IncidentRole.role_key) == role_key, condition)
        .values(user_id=user_id, assigned_by=by, assigned_at=utcnow(), version=IncidentRole.version + 1)
    )
    return result.rowcount == 1


async def _ensure_role_row(incident_id: int, role_key: str, *, session: AsyncSession) -> None:
    """Roles added to the settings after an incident was declared get their row on first use."""
    if await session.get(IncidentRole, (incident_id, role_key)) is not None:
        return
    try:
        async with session.begin_nested():
            session.add(IncidentRole(incident_id=incident_id, role_key=role_key))
    except IntegrityError:
        pass


async def transition_status(incident_id: int, expected: str, new: str, *, session: AsyncSession,
                            **values: object) -> bool:
    """Compare-and-set on the status: two concurrent changes cannot both start from the same one."""
    result = await session.execute(
        update(Incident).where(col(Incident.id) == incident_id, col(Incident.status) == expected)
        .values(status=new, **values))
    return result.rowcount == 1


async def roles_held_by(user_id: str, incident_ids: Sequence[int], *, session: AsyncSession) -> set[int]:
    """Of these incidents, the ones where the person holds a role."""
    if not incident_ids:
        return set()
    query = select(IncidentRole.incident_id).where(col(IncidentRole.user_id) == user_id,
                                                   col(IncidentRole.incident_id).in_(list(incident_ids)))
    return set((await session.execute(query)).scalars().all())
