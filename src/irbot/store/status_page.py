"""The public status page's records: publications, their public entries, and the version every
publication raises (the key of each replica's cache of the rendered page).
Keyword-only ``session``; callers commit."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

from sqlalchemy import func, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.store.models import Counter, Incident, StatusEntry, StatusPublication

STATUS_VERSION = "status_page"
log = logging.getLogger(__name__)


async def bump_status_version(*, session: AsyncSession) -> int:
    """Raise the page's version in the publication's own transaction: every replica's cache of the
    page is stale from the moment the publication commits."""
    result = await session.execute(
        update(Counter).where(col(Counter.name) == STATUS_VERSION)
        .values(value=Counter.value + 1).returning(Counter.value))
    value = result.scalar_one_or_none()
    if value is not None:
        return value
    try:
        async with session.begin_nested():
            session.add(Counter(name=STATUS_VERSION, value=1))
        return 1
    except IntegrityError:  # another publication created the row first
        return await bump_status_version(session=session)


async def status_version(*, session: AsyncSession) -> int:
    query = select(Counter.value).where(Counter.name == STATUS_VERSION)
    return (await session.execute(query)).scalar_one_or_none() or 0


async def publication_of(incident_id: int, *, session: AsyncSession) -> StatusPublication | None:
    return await session.get(StatusPublication, incident_id, populate_existing=True)


async def save_publication(incident_id: int, *, title: str, impact: str, components: list[str], at: datetime,
                           session: AsyncSession) -> StatusPublication:
    """Publish, or publish again (new words, back on the page if it was taken off or resolved)."""
    publication = await publication_of(incident_id, session=session)
    if publication is None or publication.unpublished_at is not None:
        if publication is not None:
            await session.delete(publication)
            await session.flush()
        publication = StatusPublication(incident_id=incident_id, title=title, impact=impact,
                                        components=list(components), published_at=at)
        session.add(publication)
    else:
        publication.title, publication.impact, publication.components = title, impact, list(components)
        publication.resolved_at = None
    await session.flush()
    return publication


async def add_status_entry(entry: StatusEntry, *, session: AsyncSession) -> StatusEntry | None:
    """None when this form's entry is already recorded."""
    try:
        async with session.begin_nested():
            session.add(entry)
        return entry
    except IntegrityError:
        return None


async def mark_publication(incident_id: int, *, session: AsyncSession, **values: Any) -> bool:
    """Set resolved_at or unpublished_at on a publication that is on the page; False when it is not."""
    result = await session.execute(
        update(StatusPublication).where(col(StatusPublication.incident_id) == incident_id,
                                        col(StatusPublication.unpublished_at).is_(None)).values(**values))
    return result.rowcount == 1


async def published_rows(*, since: datetime, session: AsyncSession) -> list[tuple[StatusPublication, int]]:
    """Publications on the page (open, or resolved since ``since``) with their incident's number."""
    query = (select(StatusPublication, Incident.number)
             .join(Incident, col(Incident.id) == col(StatusPublication.incident_id))
             .where(col(StatusPublication.unpublished_at).is_(None))
             .where((col(StatusPublication.resolved_at).is_(None)) | (col(StatusPublication.resolved_at) >= since))
             .order_by(col(StatusPublication.published_at).desc()))
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def published_by_number(number: int, *, session: AsyncSession) -> tuple[StatusPublication, int] | None:
    query = (select(StatusPublication, Incident.number)
             .join(Incident, col(Incident.id) == col(StatusPublication.incident_id))
             .where(Incident.number == number, col(StatusPublication.unpublished_at).is_(None)))
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


def _current_entries(incident_ids: list[int]) -> Any:
    """Entries of the incidents' current publications (words from before an unpublish stay off)."""
    return (select(col(StatusEntry.id), col(StatusEntry.incident_id), col(StatusEntry.kind), col(StatusEntry.text),
                   col(StatusEntry.impact), col(StatusEntry.at))
            .join(StatusPublication, col(StatusPublication.incident_id) == col(StatusEntry.incident_id))
            .where(col(StatusEntry.incident_id).in_(incident_ids),
                   col(StatusEntry.at) >= col(StatusPublication.published_at)))


async def status_entries(incident_ids: list[int], *, session: AsyncSession, per_incident: int | None = None,
                         limit: int | None = None) -> list[Any]:
    """Public entries (rows: id, incident_id, kind, text, impact, at) newest first: all of them, the
    newest ``per_incident`` of each incident, or the newest ``limit`` in all."""
    if not incident_ids:
        return []
    query = _current_entries(incident_ids)
    if per_incident is not None:
        rank = func.row_number().over(partition_by=col(StatusEntry.incident_id),
                                      order_by=(col(StatusEntry.at).desc(), col(StatusEntry.id).desc()))
        ranked = query.add_columns(rank.label("rank")).subquery()
        query = (select(ranked.c.id, ranked.c.incident_id, ranked.c.kind, ranked.c.text, ranked.c.impact, ranked.c.at)
                 .where(ranked.c.rank <= per_incident).order_by(ranked.c.at.desc(), ranked.c.id.desc()))
    else:
        query = query.order_by(col(StatusEntry.at).desc(), col(StatusEntry.id).desc())
        if limit is not None:
            query = query.limit(limit)
    return list((await session.execute(query)).all())


async def status_entry_counts(incident_ids: list[int], *, session: AsyncSession) -> dict[int, int]:
    if not incident_ids:
        return {}
    inner = _current_entries(incident_ids).subquery()
    query = select(inner.c.incident_id, func.count()).group_by(inner.c.incident_id)
    return {incident_id: count for incident_id, count in (await session.execute(query)).all()}


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str
    version: int
    valid_until: datetime | None  # the page changes by itself then (a resolved incident ages off)
    gzipped: bytes | None = None  # the body compressed once, for clients that accept gzip


class StatusPageCache:
    """Each replica's rendered pages, keyed by the publication version.

    A publication made here makes the next request read the version at once; one made by another
    replica is seen within ``check_every`` seconds (the version is one primary-key row, read at
    most that often, by one request at a time, whatever the number of clients)."""

    def __init__(self, read_version: Callable[[], Awaitable[int]], clock: Callable[[], datetime],
                 check_every: float = 1.0) -> None:
        self._read_version = read_version
        self._clock = clock
        self.check_every = check_every
        self._version = -1
        self._checked = float("-inf")
        self._version_lock = asyncio.Lock()
        self._entries: dict[str, Rendered] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def invalidate(self) -> None:
        """A publication committed here: read the version on the next request."""
        self._checked = float("-inf")

    async def version(self) -> int:
        """The publication version; while the database does not answer, the last one known (the page
        stays up during an outage of the database, showing what it showed)."""
        if time.monotonic() - self._checked < self.check_every:
            return self._version
        if self._version_lock.locked() and self._version >= 0:
            return self._version  # one request is asking the database; the others need not wait for it
        async with self._version_lock:
            if time.monotonic() - self._checked >= self.check_every:
                checked = time.monotonic()
                try:
                    self._version = await self._read_version()
                except (DBAPIError, PoolTimeout, OSError):
                    if self._version < 0:
                        raise  # nothing rendered yet: the caller says "unavailable"
                    log.warning("the status page's version could not be read; serving the last page")
                self._checked = checked
        return self._version

    def _fresh(self, key: str, version: int) -> Rendered | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            return None
        if entry.valid_until is not None and self._clock() >= entry.valid_until:
            return None
        return entry

    async def get(self, key: str, build: Callable[[int], Awaitable[Rendered]]) -> Rendered:
        """The rendered page for ``key`` at the current version; built once however many ask at once."""
        version = await self.version()
        entry = self._fresh(key, version)
        if entry is not None:
            return entry
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._fresh(key, version)
            if entry is None:
                entry = await build(version)
                if len(self._entries) > 1000:  # incident pages of a long history: keep the memory bounded
                    self._entries.clear()
                self._entries[key] = entry
        return entry
