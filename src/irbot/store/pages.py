"""PagerDuty pages, one row per dedup key. Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import Page

OPEN_STATES = ("triggered", "acknowledged")


async def page_of(dedup_key: str, *, session: AsyncSession) -> Page | None:
    return (await session.execute(select(Page).where(Page.dedup_key == dedup_key))).scalars().first()


async def pages_of(incident_id: int, *, session: AsyncSession) -> list[Page]:
    query = select(Page).where(Page.incident_id == incident_id).order_by(col(Page.triggered_at), col(Page.dedup_key))
    return list((await session.execute(query)).scalars().all())


async def open_page(page: Page, *, session: AsyncSession) -> bool:
    """Record a trigger for ``page.dedup_key``; False when that key is open already (triggered or
    acknowledged): PagerDuty would fold a second trigger into the same incident, so none is sent."""
    try:
        async with session.begin_nested():
            session.add(page)
        return True
    except IntegrityError:
        pass
    reopened = await session.execute(
        update(Page).where(col(Page.dedup_key) == page.dedup_key, col(Page.state).not_in(OPEN_STATES))
        .values(state="triggered", triggered_at=page.triggered_at, triggered_by=page.triggered_by,
                acknowledged_at=None, acknowledged_by=None, resolved_at=None, name=page.name))
    return bool(reopened.rowcount)


async def close_pages(incident_id: int, *, at: datetime, session: AsyncSession) -> list[Page]:
    """Mark the incident's open pages resolved; returns them (each is owed a resolve event)."""
    query = select(Page).where(Page.incident_id == incident_id, col(Page.state).in_(OPEN_STATES))
    pages = list((await session.execute(query)).scalars().all())
    if pages:
        await session.execute(update(Page).where(col(Page.dedup_key).in_([p.dedup_key for p in pages]))
                              .values(state="resolved", resolved_at=at))
    return pages


async def acknowledge_page(dedup_key: str, *, by: str, at: datetime, session: AsyncSession) -> bool:
    """The first acknowledgement of an open page; False if it was acknowledged (or closed) before."""
    done = await session.execute(
        update(Page).where(col(Page.dedup_key) == dedup_key, col(Page.state) == "triggered",
                           col(Page.acknowledged_at).is_(None))
        .values(state="acknowledged", acknowledged_at=at, acknowledged_by=by))
    return bool(done.rowcount)


async def page_sent(dedup_key: str, *, session: AsyncSession) -> None:
    await session.execute(update(Page).where(col(Page.dedup_key) == dedup_key).values(triggers=Page.triggers + 1))


async def page_refused(dedup_key: str, *, session: AsyncSession) -> None:
    await session.execute(update(Page).where(col(Page.dedup_key) == dedup_key, col(Page.state) == "triggered")
                          .values(state="refused"))
