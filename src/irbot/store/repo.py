"""Repository functions: the only place that writes SQL. Keyword-only ``session``; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import delete, func, or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from irbot.perf import gc_paused
from irbot.domain.evidence import GENESIS, EvidenceRecord, link, text_digest
from irbot.store.models import (
    ActionItem, AlertGroup, AlertSeen, ChannelMember, ChannelRoster, Counter, Delivery, Heartbeat, Incident,
    IncidentRole, OutboxItem, Person, RegulatoryClock, Reminder, TimelineEvent, utcnow,
)

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
    dialect = postgresql if session.bind is not None and session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


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


# --- reminders ------------------------------------------------------------------------------------

async def set_reminder(incident_id: int, kind: str, due_at: datetime, *, session: AsyncSession) -> None:
    """Make ``due_at`` the next reminder of this kind (replacing any earlier plan)."""
    values = {"due_at": due_at, "state": "pending", "lease_until": None, "tries": 0}
    result = await session.execute(
        update(Reminder).where(col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind).values(**values))
    if result.rowcount:
        return
    try:
        async with session.begin_nested():
            session.add(Reminder(incident_id=incident_id, kind=kind, **values))
    except IntegrityError:  # created meanwhile by another process: update theirs
        await session.execute(update(Reminder).where(
            col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind).values(**values))


async def cancel_reminders(incident_id: int, kinds: Sequence[str], *, session: AsyncSession) -> None:
    await session.execute(
        update(Reminder).where(col(Reminder.incident_id) == incident_id, col(Reminder.kind).in_(kinds),
                               col(Reminder.state).in_(("pending", "firing")))
        .values(state="cancelled", lease_until=None))


async def claim_reminder(incident_id: int, kind: str, due_at: datetime, *, now: datetime, lease_until: datetime,
                         session: AsyncSession) -> int:
    """pending → firing for exactly one caller; a stale "firing" (its process died) may be retaken.

    Returns how many times this due time has been claimed, this claim included; 0: not claimed."""
    stale = (col(Reminder.state) == "firing") & (col(Reminder.lease_until) < now)
    this = (col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind, col(Reminder.due_at) == due_at)
    result = await session.execute(
        update(Reminder).where(*this, or_(col(Reminder.state) == "pending", stale))
        .values(state="firing", lease_until=lease_until, tries=Reminder.tries + 1))
    if result.rowcount != 1:
        return 0
    return int((await session.execute(select(Reminder.tries).where(*this))).scalar_one())


async def finish_reminder(incident_id: int, kind: str, due_at: datetime, *, state: str,
                          session: AsyncSession) -> None:
    """firing → done/cancelled, unless a newer plan replaced the row meanwhile."""
    await session.execute(
        update(Reminder)
        .where(col(Reminder.incident_id) == incident_id, col(Reminder.kind) == kind,
               col(Reminder.due_at) == due_at, col(Reminder.state) == "firing")
        .values(state=state, lease_until=None, fired=Reminder.fired + (1 if state == "done" else 0)))


async def release_firing_reminders(*, session: AsyncSession) -> None:
    """firing -> pending for every reminder: only for a scheduler that has just become the only active one."""
    await session.execute(update(Reminder).where(col(Reminder.state) == "firing")
                          .values(state="pending", lease_until=None))


async def due_reminders(*, now: datetime, session: AsyncSession) -> list[Reminder]:
    """Reminders that should have fired by ``now`` (pending), or whose firing process died."""
    pending_due = (col(Reminder.state) == "pending") & (col(Reminder.due_at) <= now)
    stale = (col(Reminder.state) == "firing") & (col(Reminder.lease_until) < now)
    query = select(Reminder).where(or_(pending_due, stale)).order_by(Reminder.due_at)
    return list((await session.execute(query)).scalars().all())


async def pending_reminders(*, session: AsyncSession) -> list[Reminder]:
    query = select(Reminder).where(col(Reminder.state) == "pending").order_by(Reminder.due_at)
    return list((await session.execute(query)).scalars().all())


# --- capture --------------------------------------------------------------------------------------

async def redact_message(incident_id: int, ts: str, *, session: AsyncSession) -> None:
    """Drop the stored text of a deleted message and of its edits (Slack deletions are often secrets)."""
    keys = or_(col(TimelineEvent.dedupe_key) == f"msg:{ts}", col(TimelineEvent.dedupe_key).like(f"edit:{ts}:%"))
    await session.execute(update(TimelineEvent).where(col(TimelineEvent.incident_id) == incident_id, keys)
                          .values(text=""))


async def has_event(incident_id: int, dedupe_key: str, *, session: AsyncSession) -> bool:
    query = select(TimelineEvent.id).where(TimelineEvent.incident_id == incident_id,
                                           TimelineEvent.dedupe_key == dedupe_key)
    return (await session.execute(query)).first() is not None


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


async def beat(process_id: str, *, started_at: datetime, now: datetime, session: AsyncSession,
               stopped: bool = False) -> None:
    result = await session.execute(update(Heartbeat).where(col(Heartbeat.process_id) == process_id)
                                   .values(last_seen=now, stopped=stopped))
    if not result.rowcount:
        session.add(Heartbeat(process_id=process_id, started_at=started_at, last_seen=now, stopped=stopped))


async def heartbeats_since(since: datetime, *, session: AsyncSession) -> list[Heartbeat]:
    rows = await session.execute(select(Heartbeat).where(col(Heartbeat.last_seen) >= since))
    return list(rows.scalars().all())


# --- action items ---------------------------------------------------------------------------------

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


# --- deliveries -----------------------------------------------------------------------------------

async def claim_delivery(key: str, *, now: datetime, connection: AsyncConnection) -> bool:
    """True for the first delivery of ``key``; False for a repeat (any process).

    One INSERT … ON CONFLICT DO NOTHING on a bare connection: it is on every request's path before
    the ack, so no ORM unit of work and no savepoint.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(table).values(key=key, received_at=now)
                 .on_conflict_do_nothing(index_elements=[table.c.key]).returning(table.c.key))
    return (await connection.execute(statement)).first() is not None


async def release_delivery(key: str, *, session: AsyncSession) -> None:
    await session.execute(delete(Delivery).where(col(Delivery.key) == key))


async def forget_deliveries(before: datetime, *, session: AsyncSession) -> None:
    await session.execute(delete(Delivery).where(col(Delivery.received_at) < before))


async def transition_status(incident_id: int, expected: str, new: str, *, session: AsyncSession,
                            **values: object) -> bool:
    """Compare-and-set on the status: two concurrent changes cannot both start from the same one."""
    result = await session.execute(
        update(Incident).where(col(Incident.id) == incident_id, col(Incident.status) == expected)
        .values(status=new, **values))
    return result.rowcount == 1


# --- regulatory clocks ----------------------------------------------------------------------------

async def add_clock(clock: RegulatoryClock, *, session: AsyncSession) -> RegulatoryClock | None:
    """None when this regulation's clock already runs for the incident."""
    try:
        async with session.begin_nested():
            session.add(clock)
        return clock
    except IntegrityError:
        return None


async def clocks_of(incident_id: int, *, session: AsyncSession) -> list[RegulatoryClock]:
    query = select(RegulatoryClock).where(RegulatoryClock.incident_id == incident_id).order_by(RegulatoryClock.id)
    return list((await session.execute(query)).scalars().all())


async def clock_of(incident_id: int, regime: str, *, session: AsyncSession) -> RegulatoryClock | None:
    query = select(RegulatoryClock).where(RegulatoryClock.incident_id == incident_id,
                                          RegulatoryClock.regime == regime)
    return (await session.execute(query)).scalars().first()


async def mark_clock_notified(clock_id: int, *, by: str, at: datetime, reference: str,
                              session: AsyncSession) -> bool:
    """Only the first notification counts (a double click changes nothing)."""
    result = await session.execute(
        update(RegulatoryClock).where(col(RegulatoryClock.id) == clock_id, col(RegulatoryClock.notified_at).is_(None))
        .values(notified_at=at, notified_by=by, reference=reference))
    return result.rowcount == 1


# --- alert groups ---------------------------------------------------------------------------------

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


# --- outbox: Slack work owed by committed changes -------------------------------------------------

async def add_outbox(item: OutboxItem, *, session: AsyncSession) -> int:
    session.add(item)
    await session.flush()
    assert item.id is not None
    return item.id


async def outbox_subject(item_id: int, *, session: AsyncSession) -> tuple[Incident, str, bool] | None:
    """The item's incident, what the item is (``setup``, ``role_changed`` …), and whether an older
    item of the same incident is still pending (then this one should not overtake it)."""
    other = aliased(OutboxItem)
    older = select(other.id).where(other.incident_id == col(Incident.id), other.state == "pending",
                                   other.id < item_id).exists()
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


# The claim's ``attempts`` number identifies its holder: a worker whose item was claimed again
# (its lease lapsed) changes nothing any more.

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


async def outbox_due(*, now: datetime, incident_id: int | None = None, session: AsyncSession) -> list[int]:
    """Pending items nobody holds (of one incident, or all), oldest first."""
    query = select(OutboxItem.id).where(_outbox_free(now)).order_by(OutboxItem.id)
    if incident_id is not None:
        query = query.where(col(OutboxItem.incident_id) == incident_id)
    return list((await session.execute(query)).scalars().all())


async def outbox_counts(*, session: AsyncSession) -> dict[str, int]:
    query = select(OutboxItem.state, func.count()).where(col(OutboxItem.state).in_(("pending", "failed"))) \
        .group_by(OutboxItem.state)
    return {state: count for state, count in (await session.execute(query)).all()}


async def forget_delivered_outbox(before: datetime, *, session: AsyncSession) -> None:
    """Delivered items are only history (the timeline keeps the facts); failed ones stay for operators."""
    await session.execute(delete(OutboxItem).where(col(OutboxItem.state) == "done",
                                                   col(OutboxItem.created_at) < before))


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


async def roles_held_by(user_id: str, incident_ids: Sequence[int], *, session: AsyncSession) -> set[int]:
    """Of these incidents, the ones where the person holds a role."""
    if not incident_ids:
        return set()
    query = select(IncidentRole.incident_id).where(col(IncidentRole.user_id) == user_id,
                                                   col(IncidentRole.incident_id).in_(list(incident_ids)))
    return set((await session.execute(query)).scalars().all())


# --- alert limits: a group's seen set, the cap and the rate of alert-declared incidents -----------

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
