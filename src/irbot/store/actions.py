"""Action items.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from irbot.store.models import ActionItem


async def add_action(item: ActionItem, *, session: AsyncSession) -> ActionItem:
    highest = (await session.execute(select(func.max(ActionItem.number))
                                     .where(ActionItem.incident_id == item.incident_id))).scalar_one_or_none()
    item.number = (highest or 0) + 1
    session.add(item)
    await session.flush()
    return item


async def actions_of(incident_id: int, *, session: AsyncSession) -> list[ActionItem]:
    query = select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.number)
    return list((await session.execute(query)).scalars().all())


async def action_by_number(incident_id: int, number: int, *, session: AsyncSession) -> ActionItem | None:
    query = select(ActionItem).where(ActionItem.incident_id == incident_id, ActionItem.number == number)
    return (await session.execute(query)).scalars().first()
