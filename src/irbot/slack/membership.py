"""Private incidents check who asks: a gate before every command, click and form, and the join
and leave events that keep the stored channel members current."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from irbot.deps import Deps
from irbot.services import membership
from irbot.slack.incident_context import tell
from irbot.slack.payloads import channel_id, metadata, user_id
from irbot.store import repo
from irbot.store.models import Incident
from irbot.views.messages import membership as messages

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.middleware
    async def private_incident_gate(body: dict[str, Any],
                                    next: Callable[[], Awaitable[None]]) -> BoltResponse | None:  # noqa: A002
        """Before any listener runs: a request about a private incident from someone outside its
        channel is answered with a refusal, and nothing is shown, changed or invited."""
        actor = user_id(body) or ""
        for incident in await _incidents_named(deps, body):
            refusal = await membership.entry_refusal(incident, actor, deps)
            if refusal is not None:
                return _refuse(deps, body, incident, messages.entry_refused(deps.renderer, refusal))
        await next()
        return None

    @app.event("member_joined_channel")
    async def joined(ack: AsyncAck, event: dict[str, Any]) -> None:
        await ack()
        if isinstance(event.get("channel"), str):
            deps.tasks.spawn(membership.member_joined(deps, event["channel"]), name="member-joined")

    @app.event("member_left_channel")
    async def left(ack: AsyncAck, event: dict[str, Any]) -> None:
        # Stored before the ack: if the database fails, Slack delivers the event again.
        if isinstance(event.get("channel"), str) and isinstance(event.get("user"), str):
            await membership.member_left(deps, event["channel"], event["user"])
        await ack()


async def _incidents_named(deps: Deps, body: dict[str, Any]) -> list[Incident]:
    """The private incidents a command, click or form names: by its channel, and by the incident a
    form's metadata names (a forged request may name one of each; handlers read one or the other)."""
    kind = "command" if "command" in body else body.get("type")
    if kind not in ("command", "block_actions", "view_submission"):
        return []  # events (checked by Slack's delivery rules) and closed forms change nothing here
    view = body.get("view") if isinstance(body.get("view"), dict) else None
    named = metadata(view).get("incident") if view else None
    ids = {named} if isinstance(named, int) and not isinstance(named, bool) else set()
    ids.add(await _incident_id_of_channel(deps, channel_id(body)))
    found = []
    for incident_id in ids - {None}:
        if membership.known_public(deps, incident_id):
            continue  # most requests: no incident, or a public one (one read per incident, ever)
        async with deps.db.reader() as session:
            incident = await repo.get_incident(incident_id, session=session)
        if incident is not None:
            membership.remember_public(deps, incident)
            if incident.private:
                found.append(incident)
    return found


async def _incident_id_of_channel(deps: Deps, channel: Any) -> int | None:
    if not isinstance(channel, str):
        return None
    try:
        return await deps.channels.incident_id(channel, trust_recent_miss=True)
    except (DBAPIError, PoolTimeout, OSError):
        # Not known to be an incident channel, and no database to ask: no handler can find, show or
        # change an incident now either, and those that need none (help, the declare form) still answer.
        log.warning("private incident gate: database unreachable, left to the handler")
        return None


def _refuse(deps: Deps, body: dict[str, Any], incident: Incident, text: str) -> BoltResponse:
    if "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    block = next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"), None)
    if body.get("type") == "view_submission" and block:
        return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
    actor = user_id(body) or ""
    if actor:  # an ephemeral where the person is (none in a channel they are not in), else a DM
        where = channel_id(body) if channel_id(body) != incident.channel_id else None
        deps.tasks.spawn(tell(deps, where, actor, text), name="refuse-outsider")
    return BoltResponse(status=200, body="")
