"""Follow-ups: the tracker issue of each action item, open items across incidents, overdue DMs.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import ActionItem, FollowupDigest, Incident, TimelineEvent, TrackerIssue


async def record_issue(issue: TrackerIssue, *, session: AsyncSession) -> TrackerIssue:
    """The first record wins (a retry that found the same issue records nothing new)."""
    existing = await session.get(TrackerIssue, issue.action_item_id)
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            session.add(issue)
    except IntegrityError:
        found = await session.get(TrackerIssue, issue.action_item_id)
        assert found is not None
        return found
    return issue


async def issue_of_item(action_item_id: int, *, session: AsyncSession) -> TrackerIssue | None:
    return await session.get(TrackerIssue, action_item_id)


async def issues_of(incident_id: int, *, session: AsyncSession) -> dict[int, TrackerIssue]:
    rows = (await session.execute(select(TrackerIssue).where(col(TrackerIssue.incident_id) == incident_id))).scalars()
    return {row.action_item_id: row for row in rows}


async def issue_by_key(kind: str, key: str, *, session: AsyncSession) -> TrackerIssue | None:
    query = select(TrackerIssue).where(col(TrackerIssue.kind) == kind, col(TrackerIssue.key) == key)
    return (await session.execute(query)).scalars().first()


async def get_action(action_item_id: int, *, session: AsyncSession) -> ActionItem | None:
    return await session.get(ActionItem, action_item_id)


async def open_items(*, session: AsyncSession, owner: str | None = None,
                     due_before: str | None = None) -> list[tuple[ActionItem, Incident, TrackerIssue | None]]:
    """Open action items (not completed) with their incident and issue, oldest due first."""
    query = (select(ActionItem, Incident, TrackerIssue)
             .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
             .join(TrackerIssue, col(TrackerIssue.action_item_id) == col(ActionItem.id), isouter=True)
             .where(col(ActionItem.status) != "completed"))
    if owner is not None:
        query = query.where(col(ActionItem.owner_id) == owner)
    if due_before is not None:
        query = query.where(col(ActionItem.due).is_not(None), col(ActionItem.due) < due_before)
    query = query.order_by(col(ActionItem.due).is_(None), col(ActionItem.due), col(Incident.number),
                           col(ActionItem.number))
    return [(a, i, t) for a, i, t in (await session.execute(query)).all()]


async def claim_digest(owner_id: str, day: str, *, now: datetime, lease_until: datetime,
                       session: AsyncSession) -> bool:
    """Exactly one caller may send an owner's digest for a day; a claim whose sender died (its lease
    lapsed while still "sending") may be taken again."""
    try:
        async with session.begin_nested():
            session.add(FollowupDigest(owner_id=owner_id, day=day, state="sending", lease_until=lease_until))
        return True
    except IntegrityError:
        pass
    result = await session.execute(
        update(FollowupDigest).where(col(FollowupDigest.owner_id) == owner_id, col(FollowupDigest.day) == day,
                                     col(FollowupDigest.state) == "sending",
                                     or_(col(FollowupDigest.lease_until).is_(None),
                                         col(FollowupDigest.lease_until) < now))
        .values(lease_until=lease_until))
    return bool(result.rowcount == 1)


async def digest_sent(owner_id: str, day: str, *, session: AsyncSession) -> None:
    await session.execute(update(FollowupDigest).where(
        col(FollowupDigest.owner_id) == owner_id, col(FollowupDigest.day) == day).values(state="sent",
                                                                                          lease_until=None))


async def postmortem_link(incident_id: int, *, session: AsyncSession) -> str | None:
    """The permalink of the incident's latest published post-mortem, if any."""
    query = (select(TimelineEvent.data).where(col(TimelineEvent.incident_id) == incident_id,
                                              col(TimelineEvent.kind) == "postmortem")
             .order_by(col(TimelineEvent.id).desc()).limit(1))
    data = (await session.execute(query)).scalar_one_or_none()
    link = (data or {}).get("link")
    return link if isinstance(link, str) else None
