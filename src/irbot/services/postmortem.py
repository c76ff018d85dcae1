"""Compiling the post-mortem from stored events (plus backfill for time irbot was away)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

from irbot.deps import Deps
from irbot.domain.incident import IncidentFacts
from irbot.domain.markdown import escape_markdown_line, mrkdwn_to_markdown
from irbot.domain.severities import Severity
from irbot.domain.text import clean_json
from irbot.domain.timeline import (
    LogEntry, Record, ResponseMetrics, build_log, count_messages, key_moments, response_metrics, ts_to_datetime,
    uncovered,
)
from irbot.services import surfaces
from irbot.services.timeline import store_message
from irbot.slack.gateway import SlackCallError
from irbot.store import repo
from irbot.store.models import ActionItem, Incident

log = logging.getLogger(__name__)
HEARTBEAT_SLACK = timedelta(seconds=45)  # a beat every 15 s; allow for a slow one
HISTORY_PAGE = 200
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)")


@dataclass
class Postmortem:
    incident: IncidentFacts
    severity: Severity
    resolution: str
    roles: list[dict[str, Any]]
    handovers: list[dict[str, Any]]
    metrics: ResponseMetrics
    moments: list[dict[str, Any]]
    log: list[LogEntry]
    message_count: int
    actions: list[ActionItem]
    generated_at: datetime
    people: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def name(self, user_id: str | None) -> str:
        if not user_id:
            return "someone"
        return self.people.get(user_id) or "someone"

    def markdown(self, text: str) -> str:
        converted = mrkdwn_to_markdown(text, person=self.people.get, channel=lambda _c: None)  # type: ignore[arg-type]
        return escape_markdown_line(converted)


async def backfill(incident: Incident, deps: Deps) -> int:
    """Fetch what was said while no irbot process was listening; returns messages newly stored."""
    end = incident.resolved_at or deps.clock()
    async with deps.db.session() as session:
        beats = await repo.heartbeats_since(incident.declared_at - HEARTBEAT_SLACK, session=session)
    now = deps.clock()
    # This process is listening now. Any other one is known to have listened only until its last
    # beat: a recent beat does not prove it is alive (kill -9 leaves no "stopped" beat), and a live
    # replica's last seconds are covered by this process or cost a small, harmless backfill
    # (stores are idempotent).
    windows = [(b.started_at, now if b.process_id == deps.process_id else b.last_seen) for b in beats]
    gaps = uncovered(incident.declared_at, end, windows)
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


async def compile_postmortem(incident: Incident, deps: Deps, *, online: bool = True) -> Postmortem:
    """Gather everything; ``online`` looks people up in Slack (the CLI works from the database)."""
    async with deps.db.session() as session:
        records = [Record(*row) for row in await repo.timeline_rows(incident.id, session=session)]
        holders = await repo.roles_of(incident.id, session=session)
        actions = await repo.actions_of(incident.id, session=session)
        head = await repo.head_hash(incident.id, session=session)
        clocks = await repo.clocks_of(incident.id, session=session)
    people = await _names(incident, records, holders, actions, deps, online=online)
    entries = build_log(records)
    pm = Postmortem(
        incident=surfaces.facts_of(incident), severity=deps.settings.severity(incident.severity),
        resolution=incident.resolution, roles=[], handovers=[], moments=[], log=entries,
        message_count=count_messages(entries), actions=actions, generated_at=deps.clock(), people=people,
        metrics=response_metrics(records, declared_at=incident.declared_at, resolved_at=incident.resolved_at,
                                 now=deps.clock(), impact_started_at=incident.impact_started_at),
    )
    pm.roles = [{"name": role.name, "holder": pm.name(holders[role.key].user_id) if role.key in holders
                 and holders[role.key].user_id else None} for role in deps.settings.roles]
    role_names = {role.key: role.name for role in deps.settings.roles}
    pm.handovers = [{"at": r.at, "role": role_names.get(r.data.get("role"), r.data.get("role")),
                     "from": pm.name(r.data.get("from")) if r.data.get("from") else None,
                     "to": pm.name(r.data.get("to")), "by": pm.name(r.actor)}
                    for r in records if r.kind == "role_changed"]
    pm.moments = _moments(records, entries, pm, role_names)
    pm.extra["head_hash"] = head
    pm.extra["impact_started"] = incident.impact_started_at
    pm.extra["clocks"] = [_clock_row(clock, pm) for clock in clocks]
    ticked = {int(r.data["index"]): r for r in records if r.kind == "playbook_step"}
    pm.extra["playbook"] = [{"step": step, "by": pm.name(ticked[i].actor) if i in ticked else None,
                             "at": ticked[i].at if i in ticked else None} for i, step in enumerate(incident.playbook)]
    return pm


def _moments(records: list[Record], entries: list[LogEntry], pm: Postmortem, role_names: dict[str, str]) -> list[dict[str, Any]]:
    by_ts = {e.ts: e for e in entries} | {r.ts: r for e in entries for r in e.replies}
    moments = []
    for record in key_moments(records):
        if record.kind == "key_message":
            entry = by_ts.get(record.data.get("ts", ""))
            if entry is None or entry.deleted_at:
                continue
            moments.append({"at": entry.at, "kind": record.kind, "who": pm.name(entry.user),
                            "text": pm.markdown(entry.text)})
            continue
        data = {**record.data, "role": role_names.get(record.data.get("role"), record.data.get("role"))}
        moments.append({"at": record.at, "kind": record.kind, "who": pm.name(record.actor),
                        "text": pm.markdown(record.text), "data": data,
                        "to": pm.name(record.data.get("to")) if record.kind == "role_changed" else None})
    return sorted(moments, key=lambda m: m["at"])


async def _names(incident: Incident, records: list[Record], holders: dict, actions: list[ActionItem],  # noqa: ANN001
                 deps: Deps, *, online: bool) -> dict[str, str]:
    ids: set[str] = {r.actor for r in records if r.actor}
    # Only role changes name people in from/to; status and severity changes hold "SEV-2", "mitigating".
    ids |= {r.data.get(k) for r in records if r.kind == "role_changed" for k in ("from", "to") if r.data.get(k)}
    ids |= {h.user_id for h in holders.values() if h.user_id}
    ids |= {a.owner_id for a in actions if a.owner_id}
    if incident.declarer_id:
        ids.add(incident.declarer_id)
    for record in records:
        if "<@" in record.text:
            ids.update(_MENTION.findall(record.text))
    async with deps.db.session() as session:
        known = await repo.people_named(sorted(ids), session=session)
    if online:
        for user_id in sorted(ids - set(known)):
            try:
                person = await deps.workspace.person(user_id)
            except SlackCallError:
                person = None
            if person is not None:
                known[user_id] = person.name
        async with deps.db.session() as session:
            for user_id, name in known.items():
                await repo.remember_person(user_id, name, session=session)
            await session.commit()
    return known


def render(pm: Postmortem, deps: Deps) -> str:
    return deps.renderer.document("postmortem.md.j2", pm=pm)


async def publish_postmortem(incident: Incident, *, actor: str, deps: Deps) -> str:
    """Backfill, compile, upload the Markdown file to the channel and bookmark it; returns the file id."""
    await backfill(incident, deps)
    async with deps.db.session() as session:
        incident = await repo.get_incident(incident.id, session=session)
    document = render(await compile_postmortem(incident, deps), deps)
    ref = surfaces.facts_of(incident).ref
    title = f"{'[DRILL] ' if incident.drill else ''}Post-mortem {ref}"
    comment = deps.renderer.part("timeline.j2", "postmortem_posted", incident=surfaces.facts_of(incident),
                                 actor=actor)
    uploaded = await deps.slack.call("files_upload_v2", channel=incident.channel_id, title=title,
                                     filename=f"postmortem-{ref}.md", content=document, initial_comment=comment)
    file_id = _file_id(uploaded)
    if file_id:
        info = await deps.slack.call("files.info", file=file_id)
        link = (info.get("file") or {}).get("permalink")
        if link and not incident.postmortem_file_id:
            await deps.slack.call("bookmarks.add", channel_id=incident.channel_id, title=title, type="link", link=link)
    async with deps.db.session() as session:
        await repo.update_incident(incident.id, postmortem_file_id=file_id, session=session)
        await repo.add_event(incident.id, "postmortem", actor_id=actor, at=deps.clock(), session=session,
                             data={"file": file_id})
        await session.commit()
    return file_id or ""


def _file_id(uploaded: dict[str, Any]) -> str | None:
    files = uploaded.get("files") or ([uploaded["file"]] if uploaded.get("file") else [])
    return files[0].get("id") if files else None


def _clock_row(clock: Any, pm: Postmortem) -> dict[str, Any]:
    if clock.notified_at is not None:
        outcome = "met" if clock.notified_at <= clock.deadline else "missed (notified late)"
    else:
        outcome = "missed" if clock.missed or pm.generated_at > clock.deadline else "running"
    return {"name": clock.name, "whom": clock.notify_whom, "aware": clock.aware_at, "deadline": clock.deadline,
            "notified": clock.notified_at, "by": pm.name(clock.notified_by) if clock.notified_by else None,
            "reference": clock.reference, "outcome": outcome}
