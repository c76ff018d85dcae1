"""Capture of what responders say in the incident channel, keyed by Slack's ``ts``: live from
events, and backfilled from Slack's history for the times no irbot process was listening.

Every store is idempotent (a ``dedupe_key`` per Slack fact), so Slack's retries, repeated
deliveries and backfill never store anything twice. Each is a unit of work of its own (its
evidence records; it owes nothing: the channel already shows what was said). Capture happens
before the ack: if the database is down, Slack gets an error and delivers the event again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

from irbot.deps import Deps
from irbot.domain.text import clean_json
from irbot.domain.timeline import ts_to_datetime, uncovered
from irbot.services.people import note_person
from irbot.store import repo
from irbot.store.models import Incident
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)
HEARTBEAT_SLACK = timedelta(seconds=45)  # a beat every 15 s; allow for a slow one
HISTORY_PAGE = 200
# At start-up: incidents resolved this recently may still miss what was said before resolution.
BACKFILL_RESOLVED_WITHIN = timedelta(days=7)
# Channels read at once at start-up. Slack limits history calls per method across the app; the
# gateway waits out each 429's Retry-After, and a few at a time keeps those waits short.
BACKFILL_AT_ONCE = 3

# Messages Slack writes itself, and bot posts: the timeline has these as irbot's own events.
_NOT_SAID_BY_PEOPLE = frozenset({
    "bot_message", "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
    "pinned_item", "unpinned_item", "channel_archive", "channel_unarchive", "group_join", "group_leave",
    "group_topic", "group_purpose", "group_name", "ekm_access_denied", "channel_posting_permissions",
})


def said_by_a_person(message: dict[str, Any], bot_user_id: str | None) -> bool:
    if message.get("bot_id") or message.get("subtype") in _NOT_SAID_BY_PEOPLE:
        return False
    return bool(message.get("user")) and message.get("user") != bot_user_id


def _files(message: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": f.get("title") or f.get("name") or "file", "url": f.get("permalink") or f.get("url_private") or ""}
            for f in message.get("files") or []]


async def store_message(incident_id: int, message: dict[str, Any], deps: Deps) -> bool:
    """Store one human message (top level or thread reply); False when it was already stored."""
    if not said_by_a_person(message, deps.workspace.bot_user_id) or not message.get("ts"):
        return False
    ts = message["ts"]
    data = {"ts": ts, "thread_ts": message.get("thread_ts"), "files": _files(message)}
    async with UnitOfWork(deps) as unit:
        event = await repo.add_event(incident_id, "message", actor_id=message.get("user"), text=message.get("text") or "",
                                     data=data, dedupe_key=f"msg:{ts}", at=ts_to_datetime(ts), session=unit.session)
    note_person(message.get("user"), deps)
    return event is not None


async def backfill_recent(deps: Deps) -> int:
    """At start-up, in the background: store what was said in the channels of open and recently
    resolved incidents while no irbot was listening, so the record is whole without anyone asking."""
    async with deps.db.reader() as session:
        incidents = await repo.incidents_to_backfill(resolved_since=deps.clock() - BACKFILL_RESOLVED_WITHIN,
                                                     session=session)
    at_once = asyncio.Semaphore(BACKFILL_AT_ONCE)

    async def one(incident: Incident) -> int:
        async with at_once:
            try:
                return await backfill(incident, deps)
            except Exception:  # one channel's failure must not stop the others; compiling tries again
                log.warning("INC-%d: backfill failed; the next start or post-mortem tries again", incident.number,
                            exc_info=True)
                return 0

    return sum(await asyncio.gather(*(one(incident) for incident in incidents)))


async def backfill(incident: Incident, deps: Deps) -> int:
    """Fetch what was said while no irbot process was listening; returns messages newly stored.

    Only the time since the incident's last backfill is considered: a gap is read from Slack once."""
    now = deps.clock()
    end = incident.resolved_at or now
    start = max(incident.declared_at, incident.backfilled_until or incident.declared_at)
    async with deps.db.session() as session:
        beats = await repo.heartbeats_since(start - HEARTBEAT_SLACK, session=session)
    # This process is listening now. Any other one is known to have listened only until its last
    # beat: a recent beat does not prove it is alive (kill -9 leaves no "stopped" beat), and a live
    # replica's last seconds are covered by this process or cost a small, harmless backfill
    # (stores are idempotent).
    windows = [(b.started_at, now if b.process_id == deps.process_id else b.last_seen) for b in beats]
    gaps = uncovered(start, end, windows)
    if not gaps or not incident.channel_id:
        return 0
    stored = 0
    parents: list[dict[str, Any]] = []
    async for message in _history(incident, deps):
        stored += await store_message(incident.id, message, deps)
        if message.get("reply_count") and _touches(message, gaps):
            parents.append(message)
    for parent in parents:
        async for reply in _replies(incident, parent["ts"], deps):
            stored += await store_message(incident.id, reply, deps)
    # Not a unit of work: bookkeeping of how far Slack's history was read, no fact and nothing owed.
    async with deps.db.session() as session:
        await repo.update_incident(incident.id, backfilled_until=now, session=session)
        await session.commit()
    log.info("INC-%d: backfilled %d messages over %d gaps", incident.number, stored, len(gaps))
    return stored


def _touches(parent: dict[str, Any], gaps: list[tuple[datetime, datetime]]) -> bool:
    latest = ts_to_datetime(parent.get("latest_reply") or parent["ts"])
    first = ts_to_datetime(parent["ts"])
    return any(first <= b and latest >= a for a, b in gaps)


async def _history(incident: Incident, deps: Deps) -> AsyncIterator[dict[str, Any]]:
    # Made storable as the Events API's messages are (NUL, lone surrogates): history holds the same text.
    async for message in deps.slack.paginate("conversations.history", "messages", channel=incident.channel_id,
                                             limit=HISTORY_PAGE, oldest=f"{incident.declared_at.timestamp() - 1:.6f}",
                                             inclusive=True):
        yield clean_json(message)


async def _replies(incident: Incident, thread_ts: str, deps: Deps) -> AsyncIterator[dict[str, Any]]:
    async for message in deps.slack.paginate("conversations.replies", "messages", channel=incident.channel_id,
                                             ts=thread_ts, limit=HISTORY_PAGE):
        if message.get("ts") != thread_ts:
            yield clean_json(message)


async def capture_event(event: dict[str, Any], deps: Deps) -> None:
    """A message, edit, deletion, reaction or pin in an incident channel."""
    incident_id = await deps.channels.incident_id(event.get("channel") or (event.get("item") or {}).get("channel"))
    if incident_id is None:
        return
    kind, subtype = event.get("type"), event.get("subtype")
    if kind == "message" and subtype == "message_changed":
        await _store_edit(incident_id, event, deps)
    elif kind == "message" and subtype == "message_deleted":
        await _store_deletion(incident_id, event, deps)
    elif kind == "message":
        await store_message(incident_id, event, deps)
    elif kind == "reaction_added" and event.get("reaction") == "pushpin":
        await mark_key_message(incident_id, (event.get("item") or {}).get("ts"), event.get("user"), deps)
    elif kind == "pin_added":
        await mark_key_message(incident_id, (event.get("item") or {}).get("message", {}).get("ts"), event.get("user"),
                               deps)


async def _store_edit(incident_id: int, event: dict[str, Any], deps: Deps) -> None:
    message = event.get("message") or {}
    previous = event.get("previous_message") or {}
    if not said_by_a_person(message, deps.workspace.bot_user_id):
        return
    ts = message.get("ts")
    edited = (message.get("edited") or {}).get("ts") or event.get("event_ts") or event.get("ts")
    if not ts or (message.get("text") or "") == (previous.get("text") or ""):
        return  # an unfurl or a reply count changed, not the words
    async with UnitOfWork(deps) as unit:
        session = unit.session
        if not await repo.has_event(incident_id, f"msg:{ts}", session=session) and previous:
            # The original arrived while irbot was away: keep it as it was first said.
            await repo.add_event(incident_id, "message", actor_id=previous.get("user") or message.get("user"),
                                 text=previous.get("text") or "", dedupe_key=f"msg:{ts}", at=ts_to_datetime(ts),
                                 data={"ts": ts, "thread_ts": message.get("thread_ts"), "files": _files(previous)},
                                 session=session)
        await repo.add_event(incident_id, "message_edited", actor_id=message.get("user"),
                             text=message.get("text") or "", dedupe_key=f"edit:{ts}:{edited}",
                             at=ts_to_datetime(edited), data={"ts": ts}, session=session)


async def _store_deletion(incident_id: int, event: dict[str, Any], deps: Deps) -> None:
    ts = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
    if not ts:
        return
    previous = event.get("previous_message") or {}
    at = ts_to_datetime(event.get("event_ts") or event.get("ts") or ts)
    async with UnitOfWork(deps) as unit:
        session = unit.session
        # Read in this transaction: a legal hold set a moment ago must keep this text.
        incident = await repo.get_incident(incident_id, session=session)
        keep = deps.settings.keep_deleted_text or (incident is not None and incident.legal_hold)
        if not await repo.has_event(incident_id, f"msg:{ts}", session=session):
            if not said_by_a_person(previous, deps.workspace.bot_user_id):
                return
        stored = await repo.add_event(incident_id, "message_deleted", actor_id=None, at=at,
                                      text=(previous.get("text") or "") if keep else "",
                                      dedupe_key=f"del:{ts}", data={"ts": ts}, session=session)
        if stored is not None and not keep:
            await repo.redact_message(incident_id, ts, session=session)


async def mark_key_message(incident_id: int, ts: str | None, actor: str | None, deps: Deps) -> None:
    if not ts:
        return
    async with UnitOfWork(deps) as unit:
        await repo.add_event(incident_id, "key_message", actor_id=actor, dedupe_key=f"key:{ts}",
                             data={"ts": ts}, at=deps.clock(), session=unit.session)


async def add_note(incident: Incident, text: str, *, actor: str, deps: Deps) -> None:
    async with UnitOfWork(deps) as unit:
        await repo.add_event(incident.id, "note", actor_id=actor, text=text, at=deps.clock(), session=unit.session)
