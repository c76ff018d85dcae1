"""The timeline: hash-chained evidence records, captured messages, redaction.
Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from irbot.domain.evidence import EvidenceRecord, GENESIS, link, text_digest
from irbot.perf import gc_paused
from irbot.store.db import insert_with_conflicts
from irbot.store.models import Incident, TimelineEvent, utcnow


async def add_event(
    incident_id: int, kind: str, *, session: AsyncSession, actor_id: str | None = None, text: str = "",
    data: dict[str, Any] | None = None, dedupe_key: str | None = None, at: datetime | None = None,
) -> TimelineEvent | None:
    """Append a record to the incident's evidence chain; a repeat of ``dedupe_key`` is skipped (None).

    Core statements, not the ORM unit of work: this is on the path of every stored message before
    its ack. The insert skips any conflict instead of failing inside a SAVEPOINT; only then is it
    worth asking whether the fact was stored already.
    """
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    for _ in range(20):  # a concurrent append may take our sequence number: read the head again
        await _lock_chain(incident_id, session=session)
        head = (await session.execute(
            select(table.c.seq, table.c.hash).where(table.c.incident_id == incident_id)
            .order_by(table.c.seq.desc()).limit(1))).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        event = TimelineEvent(incident_id=incident_id, kind=kind, actor_id=actor_id, text=text, data=data or {},
                              dedupe_key=dedupe_key, at=at or utcnow(), seq=seq, text_sha256=text_digest(text),
                              prev_hash=prev)
        event.hash = link(prev, evidence_of(event))
        inserted = (await session.execute(_insert_skipping_conflicts(session, table).values(
            incident_id=incident_id, kind=kind, actor_id=actor_id, text=text, data=event.data, dedupe_key=dedupe_key,
            at=event.at, seq=seq, text_sha256=event.text_sha256, prev_hash=prev, hash=event.hash,
        ).returning(table.c.id))).first()
        if inserted is not None:
            event.id = inserted[0]
            return event
        # Either this fact is stored already (a repeat: skip it) or another append took the seq.
        if dedupe_key is not None and await has_event(incident_id, dedupe_key, session=session):
            return None
    raise RuntimeError(f"could not append to the evidence chain of incident {incident_id}")


def _insert_skipping_conflicts(session: AsyncSession, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING (any unique constraint), in the session's SQL dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return insert_with_conflicts(dialect, table).on_conflict_do_nothing()


async def _lock_chain(incident_id: int, *, session: AsyncSession) -> None:
    """PostgreSQL: appends to one incident's chain take turns (SQLite writers already do)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(select(Incident.id).where(col(Incident.id) == incident_id).with_for_update())


def evidence_of(event: TimelineEvent) -> EvidenceRecord:
    return EvidenceRecord(seq=event.seq, at=event.at, kind=event.kind, actor=event.actor_id, text=event.text,
                          text_sha256=event.text_sha256, data=event.data, dedupe_key=event.dedupe_key,
                          prev_hash=event.prev_hash, hash=event.hash)


async def evidence(incident_id: int, *, session: AsyncSession) -> list[EvidenceRecord]:
    """The chain in order, read as plain rows.

    The table's own columns make this a Core query: the ORM's per-row loading machinery is skipped
    (a quarter of the load time for 100,000 records), while the column types still give aware
    datetimes and decoded JSON.
    """
    table = TimelineEvent.__table__.c  # type: ignore[attr-defined]
    columns = (table.seq, table.at, table.kind, table.actor_id, table.text, table.text_sha256, table.data,
               table.dedupe_key, table.prev_hash, table.hash)
    rows = await session.execute(select(*columns).where(table.incident_id == incident_id).order_by(table.seq))
    with gc_paused():
        return [EvidenceRecord(*row) for row in rows.all()]


async def head_hash(incident_id: int, *, session: AsyncSession) -> str:
    row = (await session.execute(select(TimelineEvent.hash).where(TimelineEvent.incident_id == incident_id)
                                 .order_by(col(TimelineEvent.seq).desc()).limit(1))).first()
    return row[0] if row else GENESIS


async def timeline_rows(incident_id: int, *, session: AsyncSession) -> list[tuple[Any, ...]]:
    """(kind, at, actor, text, data) in order, as plain rows: compiling 10,000 needs no ORM objects."""
    columns = (TimelineEvent.kind, TimelineEvent.at, TimelineEvent.actor_id, TimelineEvent.text, TimelineEvent.data)
    query = select(*columns).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.at,
                                                                                        TimelineEvent.seq)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def latest_timeline_rows(incident_id: int, kinds: Sequence[str], limit: int, *,
                               session: AsyncSession) -> list[tuple[Any, ...]]:
    """The last ``limit`` events of these kinds as (kind, at, actor, text, data), oldest first.

    For answers that show only the end of the timeline: the database picks the rows, so a long
    incident costs no more than a short one.
    """
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    query = (select(table.c.kind, table.c.at, table.c.actor_id, table.c.text, table.c.data)
             .where(table.c.incident_id == incident_id, table.c.kind.in_(kinds))
             .order_by(table.c.at.desc(), table.c.seq.desc()).limit(limit))
    return [tuple(row) for row in reversed((await session.execute(query)).all())]


async def events_of(incident_id: int, *, session: AsyncSession, kinds: Sequence[str] | None = None) -> list[TimelineEvent]:
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if kinds:
        query = query.where(col(TimelineEvent.kind).in_(kinds))
    return list((await session.execute(query.order_by(TimelineEvent.at, TimelineEvent.seq))).scalars().all())


async def redact_message(incident_id: int, ts: str, *, session: AsyncSession) -> None:
    """Drop the stored text of a deleted message and of its edits (Slack deletions are often secrets)."""
    keys = or_(col(TimelineEvent.dedupe_key) == f"msg:{ts}", col(TimelineEvent.dedupe_key).like(f"edit:{ts}:%"))
    await session.execute(update(TimelineEvent).where(col(TimelineEvent.incident_id) == incident_id, keys)
                          .values(text=""))


async def has_event(incident_id: int, dedupe_key: str, *, session: AsyncSession) -> bool:
    query = select(TimelineEvent.id).where(TimelineEvent.incident_id == incident_id,
                                           TimelineEvent.dedupe_key == dedupe_key)
    return (await session.execute(query)).first() is not None
