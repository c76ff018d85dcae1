"""People: names irbot has looked up, and who is in which private incident channel.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import ChannelMember, ChannelRoster, Person, utcnow


async def remember_person(person_id: str, name: str, *, session: AsyncSession) -> None:
    existing = await session.get(Person, person_id)
    if existing is None:
        try:
            async with session.begin_nested():
                session.add(Person(id=person_id, name=name, updated_at=utcnow()))
        except IntegrityError:
            pass
    elif existing.name != name:
        existing.name, existing.updated_at = name, utcnow()


async def people_named(ids: Sequence[str], *, session: AsyncSession) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Person).where(col(Person.id).in_(list(ids))))
    return {p.id: p.name for p in rows.scalars().all()}


async def roster_entry(channel_id: str, user_id: str, *, session: AsyncSession) -> tuple[bool, datetime | None]:
    """Whether the person is in the stored members of the channel, and when those were read (None: never)."""
    member = await session.get(ChannelMember, (channel_id, user_id))
    roster = await session.get(ChannelRoster, channel_id)
    return member is not None, roster.loaded_at if roster is not None else None


async def channels_with_member(user_id: str, channel_ids: Sequence[str], *, session: AsyncSession) -> set[str]:
    """Of these channels, the ones whose stored members include the person (one query)."""
    if not channel_ids:
        return set()
    query = select(ChannelMember.channel_id).where(col(ChannelMember.user_id) == user_id,
                                                   col(ChannelMember.channel_id).in_(list(channel_ids)))
    return set((await session.execute(query)).scalars().all())


async def rosters_loaded(channel_ids: Sequence[str], *, session: AsyncSession) -> dict[str, datetime]:
    if not channel_ids:
        return {}
    query = select(ChannelRoster).where(col(ChannelRoster.channel_id).in_(list(channel_ids)))
    return {row.channel_id: row.loaded_at for row in (await session.execute(query)).scalars().all()}


async def replace_roster(channel_id: str, members: Sequence[str], *, loaded_at: datetime,
                         session: AsyncSession) -> None:
    """The channel's members as Slack just listed them."""
    await session.execute(delete(ChannelMember).where(col(ChannelMember.channel_id) == channel_id))
    session.add_all([ChannelMember(channel_id=channel_id, user_id=user) for user in sorted(set(members))])
    roster = await session.get(ChannelRoster, channel_id)
    if roster is None:
        session.add(ChannelRoster(channel_id=channel_id, loaded_at=loaded_at))
    else:
        roster.loaded_at = loaded_at


async def remove_member(channel_id: str, user_id: str, *, session: AsyncSession) -> None:
    await session.execute(delete(ChannelMember).where(col(ChannelMember.channel_id) == channel_id,
                                                      col(ChannelMember.user_id) == user_id))
