"""``/incident convert``: an incident in a channel that already exists. Its set-up joins the
channel instead of creating one, and records the channel's last day as the start of its timeline."""

from __future__ import annotations

import logging
from datetime import timedelta

from irbot.domain.text import clean_json
from irbot.services.timeline import store_message
from irbot.work.engine import Facts, Job, Step

log = logging.getLogger(__name__)
HISTORY_WINDOW = timedelta(hours=24)
HISTORY_PAGE = 200


async def join_channel(step: Step, job: Job) -> Facts | None:
    """irbot must be in the channel to pin, set the topic and hear what is said there."""
    incident, deps = job.incident, job.deps
    assert incident.channel_id is not None and incident.id is not None
    channel = (await deps.slack.call("conversations.info", channel=incident.channel_id))["channel"]
    if not channel.get("is_member"):
        await deps.slack.call("conversations.join", channel=incident.channel_id)
    deps.channels.remember(incident.channel_id, incident.id, private=incident.private)
    return None


async def capture_history(step: Step, job: Job) -> Facts | None:
    """What people said in the channel in the day before the incident, threads included: stored
    like live messages (by their ts), so a retry stores nothing twice."""
    incident, deps = job.incident, job.deps
    assert incident.id is not None
    since, until = incident.declared_at - HISTORY_WINDOW, incident.declared_at
    window = {"oldest": f"{since.timestamp():.6f}", "latest": f"{until.timestamp():.6f}", "inclusive": True}
    parents: list[str] = []
    async for message in deps.slack.paginate("conversations.history", "messages", channel=incident.channel_id,
                                             limit=HISTORY_PAGE, **window):
        await store_message(incident.id, clean_json(message), deps)
        if message.get("reply_count"):
            parents.append(str(message["ts"]))
    for parent in parents:
        async for reply in deps.slack.paginate("conversations.replies", "messages", channel=incident.channel_id,
                                               ts=parent, limit=HISTORY_PAGE, **window):
            if reply.get("ts") != parent:
                await store_message(incident.id, clean_json(reply), deps)
    return None
