"""What a person's Home tab shows, read in a few queries however many incidents are open.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.domain.roles import COMMANDER
from irbot.store.models import ActionItem, HomeTab, Incident, IncidentRole


async def roles_by_incident(user_id: str, incident_ids: Sequence[int], *,
                            session: AsyncSession) -> dict[int, list[str]]:
    """Of these incidents, the role keys the person holds in each."""
    if not incident_ids:
        return {}
    query = select(IncidentRole.incident_id, IncidentRole.role_key).where(
        col(IncidentRole.user_id) == user_id, col(IncidentRole.incident_id).in_(list(incident_ids)))
    held: dict[int, list[str]] = {}
    for incident_id, role_key in (await session.execute(query)).all():
        held.setdefault(incident_id, []).append(role_key)
    return held


async def commanders(incident_ids: Sequence[int], *, session: AsyncSession) -> dict[int, str]:
    if not incident_ids:
        return {}
    query = select(IncidentRole.incident_id, IncidentRole.user_id).where(
        col(IncidentRole.role_key) == COMMANDER, col(IncidentRole.user_id).is_not(None),
        col(IncidentRole.incident_id).in_(list(incident_ids)))
    return {incident_id: user for incident_id, user in (await session.execute(query)).all()}


async def open_actions_owned_by(user_id: str, *, limit: int,
                                session: AsyncSession) -> list[tuple[ActionItem, int, bool, str | None]]:
    """The person's action items not completed, with their incident's number, privacy and channel;
    the earliest due first (undated last)."""
    query = (select(ActionItem, Incident.number, Incident.private, Incident.channel_id)
             .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
             .where(col(ActionItem.owner_id) == user_id, col(ActionItem.status) != "completed")
             .order_by(col(ActionItem.due).is_(None), ActionItem.due, Incident.number, ActionItem.number)
             .limit(limit))
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def home_viewers_of(incident: Incident, *, session: AsyncSession) -> list[str]:
    """People with a Home tab for whom this incident is theirs: its declarer, its role holders and
    the owners of its action items."""
    holders = select(IncidentRole.user_id).where(col(IncidentRole.incident_id) == incident.id)
    owners = select(ActionItem.owner_id).where(col(ActionItem.incident_id) == incident.id)
    query = select(HomeTab.user_id).where(or_(col(HomeTab.user_id) == (incident.declarer_id or ""),
                                              col(HomeTab.user_id).in_(holders), col(HomeTab.user_id).in_(owners)))
    return list((await session.execute(query)).scalars().all())


async def home_published(user_id: str, at: datetime, *, session: AsyncSession) -> None:
    row = await session.get(HomeTab, user_id)
    if row is None:
        session.add(HomeTab(user_id=user_id, published_at=at))
    else:
        row.published_at = at


async def claim_home_slot(user_id: str, *, now: datetime, every: timedelta, session: AsyncSession) -> float | None:
    """Take the person's publish slot (None: publish now) unless their Home tab was published less
    than ``every`` ago; then the seconds until it frees."""
    taken = await session.execute(
        update(HomeTab).where(col(HomeTab.user_id) == user_id,
                              or_(col(HomeTab.published_at).is_(None), col(HomeTab.published_at) <= now - every))
        .values(published_at=now))
    if taken.rowcount == 1:
        return None
    last = (await session.execute(select(HomeTab.published_at).where(col(HomeTab.user_id) == user_id))).scalar()
    return max(0.05, ((last or now) + every - now).total_seconds())


async def open_incident_rows(*, session: AsyncSession) -> list[Any]:
    """Open incidents as plain rows (attribute access like an Incident, without the ORM's per-row
    cost): a Home tab reads them all to decide which the viewer may see."""
    table = Incident.__table__  # type: ignore[attr-defined]
    # What the incident's facts show and who may see it; not its JSON playbook (decoding it per row
    # was half the cost).
    columns = [table.c[name] for name in _FACT_COLUMNS]
    query = select(*columns).where(table.c.status.not_in(("resolved", "closed"))).order_by(table.c.number)
    return list((await session.execute(query)).all())


_FACT_COLUMNS = ("id", "number", "title", "severity", "type", "status", "private", "drill", "summary", "services",
                 "affected_users", "declarer_id", "channel_id", "declared_at", "resolved_at", "origin_permalink")
