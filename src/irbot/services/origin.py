"""Where an incident starts outside its own channel: a message someone used a shortcut on.

The message travels in the shortcut's payload. irbot uses its text only where it could read the
channel itself (``chat.getPermalink`` answers for it); a message in a private channel irbot is not
in still starts an incident, without its text. The message sits in the timeline at its own time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from irbot.deps import Deps
from irbot.domain.declare import fit_text, mentioned_people
from irbot.domain.timeline import ts_to_datetime
from irbot.outbound.slack import SlackCallError
from irbot.services import surfaces
from irbot.store import repo
from irbot.store.models import Incident
from irbot.views import blocks
from irbot.views.messages import origin as messages
from irbot.work.engine import Facts, Job, Step

log = logging.getLogger(__name__)

LINKED = "linked_message"  # the timeline's kind for a message from elsewhere
REPLY_EVENT = "irbot_origin_reply"
# Slack's answers when irbot may not read or post in a conversation (it is not in it, or it is gone).
NOT_HERE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action",
                      "ekm_access_denied", "cannot_reply_to_message", "message_not_found", "thread_locked"})
# Room kept in private_metadata for what travels beside the message (origin, convert, incident…).
METADATA_ROOM = 2600


async def read_source(deps: Deps, channel_id: str, message: dict[str, Any], *, room: int = METADATA_ROOM) -> dict:
    """The message as irbot may keep it (for a form's private_metadata): channel, ts, author, text,
    permalink, whether irbot could read it, and whether its text was cut to fit."""
    ts = str(message.get("ts") or "")
    source: dict[str, Any] = {"channel": channel_id, "ts": ts, "user": message.get("user"),
                              "permalink": None, "readable": True}
    if message.get("thread_ts") and message.get("thread_ts") != ts:
        source["thread_ts"] = str(message["thread_ts"])  # a reply: irbot answers under its parent
    try:
        answer = await deps.slack.call("chat.getPermalink", channel=channel_id, message_ts=ts)
        source["permalink"] = answer.get("permalink")
    except SlackCallError as exc:
        if exc.code in NOT_HERE:
            source["readable"] = False
        else:
            log.warning("chat.getPermalink failed: %s; the incident keeps no link", exc.code)
    source["text"] = str(message.get("text") or "") if source["readable"] else ""
    return fit_text(source, "text", lambda meta: json.dumps(meta, ensure_ascii=False), limit=room)


async def names_in(source: dict, deps: Deps) -> dict[str, str]:
    """The names irbot knows of the people the message mentions (for showing it as people read it)."""
    people = mentioned_people(source.get("text") or "")
    if not people:
        return {}
    async with deps.db.reader() as session:
        return await repo.people_named(people, session=session)


def source_time(source: dict) -> datetime:
    return ts_to_datetime(source["ts"])


async def record_source(incident_id: int, source: dict, *, added_by: str | None, note: str = "",
                        session: Any, unreadable_text: str = "") -> bool:
    """The message on the incident's timeline at its own time (a key event in the evidence log);
    False when it was there already."""
    data = {"channel": source["channel"], "ts": source["ts"], "permalink": source.get("permalink"),
            "readable": bool(source.get("readable")), "added_by": added_by, "cut": bool(source.get("cut"))}
    if note:
        data["note"] = note
    text = source.get("text") or ("" if source.get("readable") else unreadable_text)
    event = await repo.add_event(incident_id, LINKED, actor_id=source.get("user"), text=text, data=data,
                                 dedupe_key=f"linked:{source['channel']}:{source['ts']}", at=source_time(source),
                                 session=session)
    return event is not None


# --- the set-up's step: tell the message's thread (or the declarer) where the incident is ---------

async def reply_to_origin(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if not (incident.origin_channel_id and incident.origin_ts):
        return None
    if incident.private:  # a reply would show the private incident to everyone in that channel
        await _tell_declarer(incident, messages.told_private(deps.renderer, incident=surfaces.facts_of(incident)), deps)
        return None
    text = messages.thread_reply(deps.renderer, incident=surfaces.facts_of(incident))
    mark = surfaces.incident_mark(REPLY_EVENT, incident.id)
    try:
        await surfaces.post_once(incident.origin_channel_id, blocks.text_message(text), mark, deps,
                                 thread_ts=incident.origin_thread_ts or incident.origin_ts,
                                 look_since=incident.declared_at if job.look_first else None)
    except SlackCallError as exc:
        if exc.code not in NOT_HERE:
            raise
        told = messages.told_instead(deps.renderer, incident=surfaces.facts_of(incident),
                                     origin=incident.origin_channel_id)
        await _tell_declarer(incident, told, deps)
    return None


async def _tell_declarer(incident: Incident, text: str, deps: Deps) -> None:
    if incident.declarer_id:
        await deps.slack.post(incident.declarer_id, blocks.text_message(text).as_args())
