"""Compiling the post-mortem from stored events (after a backfill of any time irbot was away)."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from irbot.deps import Deps
from irbot.domain.incident import IncidentFacts
from irbot.domain.markdown import Markdown, mrkdwn_to_markdown
from irbot.domain.severities import Severity
from irbot.domain.timeline import (
    LogEntry, Record, ResponseMetrics, build_log, count_messages, key_moments, response_metrics,
)
from irbot.services import followups, surfaces
from irbot.services.timeline import backfill
from irbot.outbound.slack import SlackCallError
from irbot.store import repo
from irbot.store.models import ActionItem, Incident
from irbot.tasks import renew_every
from irbot.views.messages import postmortem as messages
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)
# Held by the one process compiling an incident's post-mortem and renewed as it works, so that a
# compile killed midway frees it within COMPILE_LEASE.
COMPILE_LEASE = timedelta(seconds=60)
LEASE_RENEW_SECONDS = 20.0
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

    def markdown(self, text: str, *, one_line: bool = False) -> Markdown:
        """Slack mrkdwn as Markdown, in a list item (later lines indented under it) or on one line."""
        if one_line:
            text = " ".join(text.split())
        converted = mrkdwn_to_markdown(text, person=self.people.get, channel=lambda _c: None)
        return Markdown(converted.replace("\n", "\n  "))


async def compile_postmortem(incident: Incident, deps: Deps, *, online: bool = True) -> Postmortem:
    """Gather everything; ``online`` looks people up in Slack (the CLI works from the database)."""
    async with deps.db.session() as session:
        records = [Record(*row) for row in await repo.timeline_rows(incident.id, session=session)]
        holders = await repo.roles_of(incident.id, session=session)
        actions = await repo.actions_of(incident.id, session=session)
        issues = await repo.issues_of(incident.id, session=session)
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
    pm.extra["issues"] = {item_id: {"key": i.key, "url": i.url} for item_id, i in issues.items()}
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
        # Not a unit of work: a copy of Slack's names for offline post-mortems, owing nothing.
        async with deps.db.session() as session:
            for user_id, name in known.items():
                await repo.remember_person(user_id, name, session=session)
            await session.commit()
    return known


def render(pm: Postmortem, deps: Deps) -> str:
    return messages.document(deps.renderer, pm)


async def claim_compile(incident: Incident, deps: Deps) -> bool:
    """Take the incident's compile lease; False while another compile (any process) is under way."""
    now = deps.clock()
    # Not a unit of work: a compare-and-set claim (one compile at a time) that owes nothing.
    async with deps.db.session() as session:
        claimed = await repo.claim_postmortem(incident.id, now=now, until=now + COMPILE_LEASE, session=session)
        await session.commit()
    return claimed


async def publish_postmortem(incident: Incident, *, actor: str, deps: Deps) -> str:
    """With the compile lease held (:func:`claim_compile`): backfill, compile, upload the Markdown
    file to the channel and bookmark it; returns the file id. The lease is freed at the end."""
    # Backfill can wait out 429s far longer than the lease: keep it while this process works.
    renewing = asyncio.get_running_loop().create_task(
        renew_every(LEASE_RENEW_SECONDS, lambda: _set_lease(incident.id, deps, deps.clock() + COMPILE_LEASE),
                    what=f"INC-{incident.number}'s post-mortem"), name="postmortem-lease")
    try:
        return await _publish(incident, actor=actor, deps=deps)
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)  # no renewal lands after the release
        try:
            await _set_lease(incident.id, deps, None)
        except Exception:  # the database is gone: the lease lapses within COMPILE_LEASE
            log.warning("INC-%d: post-mortem lease not freed", incident.number, exc_info=True)


async def _publish(incident: Incident, *, actor: str, deps: Deps) -> str:
    await backfill(incident, deps)
    async with deps.db.session() as session:
        incident = await repo.get_incident(incident.id, session=session)
    document = render(await compile_postmortem(incident, deps), deps)
    ref = surfaces.facts_of(incident).ref
    title = f"{'[DRILL] ' if incident.drill else ''}Post-mortem {ref}"
    comment = messages.posted(deps.renderer, incident=surfaces.facts_of(incident), actor=actor)
    uploaded = await deps.slack.call("files_upload_v2", channel=incident.channel_id, title=title,
                                     filename=f"postmortem-{ref}.md", content=document, initial_comment=comment)
    file_id = _file_id(uploaded)
    bookmark_id, link = incident.postmortem_bookmark_id, None
    if file_id:
        info = await deps.slack.call("files.info", file=file_id)
        link = (info.get("file") or {}).get("permalink")
        if link:
            bookmark_id = await _bookmark(incident, title, link, deps)
    async with UnitOfWork(deps) as unit:
        await repo.update_incident(incident.id, postmortem_file_id=file_id, postmortem_bookmark_id=bookmark_id,
                                   session=unit.session)
        await repo.add_event(incident.id, "postmortem", actor_id=actor, at=deps.clock(), session=unit.session,
                             data={"file": file_id, "link": link})
        if link:  # each follow-up issue links the post-mortem
            await followups.owe_postmortem_links(unit, incident, link)
    return file_id or ""


async def _bookmark(incident: Incident, title: str, link: str, deps: Deps) -> str | None:
    """Point the channel's post-mortem bookmark at the newest file: the one irbot added is edited,
    never added again; returns its id."""
    if incident.postmortem_bookmark_id:
        try:
            await deps.slack.call("bookmarks.edit", channel_id=incident.channel_id,
                                  bookmark_id=incident.postmortem_bookmark_id, title=title, link=link)
            return incident.postmortem_bookmark_id
        except SlackCallError as exc:
            if exc.code != "not_found":
                raise
            # Someone removed it from the channel: add it again.
    elif incident.postmortem_file_id:
        return None  # bookmarked before irbot kept bookmark ids: that one stays, none is added
    added = await deps.slack.call("bookmarks.add", channel_id=incident.channel_id, title=title, type="link",
                                  link=link)
    return (added.get("bookmark") or {}).get("id")


async def _set_lease(incident_id: int, deps: Deps, until: datetime | None) -> None:
    # Not a unit of work: the compile lease's own bookkeeping (renewed, freed), owing nothing.
    async with deps.db.session() as session:
        await repo.update_incident(incident_id, postmortem_lease_until=until, session=session)
        await session.commit()


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
