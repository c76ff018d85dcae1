"""Assembling an incident's record: the channel log, key moments, response metrics, gaps.

Pure functions over plain records; the service layer loads them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

KEY_KINDS = ("declared", "role_changed", "status_changed", "severity_changed", "update", "note", "key_message",
             "resolved", "status_page", "paged", "page_acknowledged", "linked_message")


@dataclass(frozen=True)
class Record:
    """One stored timeline event, as the compiler sees it."""

    kind: str
    at: datetime
    actor: str | None
    text: str
    data: dict[str, Any]


@dataclass
class LogEntry:
    """A human message in the channel log, with its edits, deletion and thread replies."""

    ts: str
    user: str | None
    text: str
    at: datetime
    thread_ts: str | None = None
    original: str | None = None  # the first text, when edited
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    files: list[dict[str, str]] = field(default_factory=list)
    replies: list["LogEntry"] = field(default_factory=list)
    key: bool = False


def ts_to_datetime(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=timezone.utc)


def build_log(records: Iterable[Record]) -> list[LogEntry]:
    """Top-level messages in order, each thread's replies under its parent in order."""
    entries: dict[str, LogEntry] = {}
    for record in records:
        ts = record.data.get("ts")
        if not ts:
            continue
        if record.kind == "message":
            entries.setdefault(ts, LogEntry(ts=ts, user=record.actor, text=record.text, at=ts_to_datetime(ts),
                                            thread_ts=record.data.get("thread_ts"),
                                            files=list(record.data.get("files") or [])))
        elif record.kind == "message_edited" and ts in entries:
            entry = entries[ts]
            if entry.original is None:
                entry.original = entry.text
            entry.text, entry.edited_at = record.text, record.at
        elif record.kind == "message_deleted" and ts in entries:
            entries[ts].deleted_at = record.at
            entries[ts].text = record.text  # empty unless the text is kept (setting or legal hold)
        elif record.kind == "key_message" and ts in entries:
            entries[ts].key = True
    return _threaded(entries)


def _threaded(entries: dict[str, LogEntry]) -> list[LogEntry]:
    top: list[LogEntry] = []
    for entry in sorted(entries.values(), key=lambda e: float(e.ts)):
        parent = entries.get(entry.thread_ts or "") if entry.thread_ts and entry.thread_ts != entry.ts else None
        if parent is not None:
            parent.replies.append(entry)
        else:
            top.append(entry)
    return top


def count_messages(log: Sequence[LogEntry]) -> int:
    return sum(1 + len(entry.replies) for entry in log)


@dataclass(frozen=True)
class ResponseMetrics:
    time_to_acknowledge: timedelta | None  # declared → first commander or first page acknowledged
    time_to_mitigate: timedelta | None  # declared → first "mitigating"
    time_to_resolve: timedelta | None  # declared → resolved
    duration: timedelta  # declared → resolved (or now, while open)
    time_to_detect: timedelta | None = None  # impact start → declared


def response_metrics(records: Sequence[Record], *, declared_at: datetime, resolved_at: datetime | None,
                     now: datetime, impact_started_at: datetime | None = None) -> ResponseMetrics:
    def first(predicate: Any) -> timedelta | None:
        moment = next((r.at for r in records if predicate(r)), None)
        return moment - declared_at if moment else None

    return ResponseMetrics(
        time_to_acknowledge=first(lambda r: r.kind == "page_acknowledged"
                                  or (r.kind == "role_changed" and r.data.get("role") == "commander")),
        time_to_mitigate=first(lambda r: r.kind == "status_changed" and r.data.get("to") == "mitigating"),
        time_to_resolve=first(lambda r: r.kind == "status_changed" and r.data.get("to") == "resolved"),
        duration=(resolved_at or now) - declared_at,
        time_to_detect=(declared_at - impact_started_at) if impact_started_at else None,
    )


def key_moments(records: Sequence[Record]) -> list[Record]:
    return [r for r in records if r.kind in KEY_KINDS]


def uncovered(start: datetime, end: datetime, running: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end] that no running interval covers: when irbot was not listening."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for began, ended in sorted(running):
        if ended <= cursor:
            continue
        if began > cursor:
            gaps.append((cursor, min(began, end)))
        cursor = max(cursor, ended)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if b > a]
