"""Declaring from anywhere: the global and message shortcuts, "Add to incident timeline", and
``/incident convert``. Each acks at once; what reaches Slack runs after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.outbound.slack import SlackCallError
from irbot.services import origin
from irbot.services.home import visible_open_incidents
from irbot.services.linking import Linked, link_message
from irbot.services.surfaces import facts_of
from irbot.slack.commands import CommandContext, handles
from irbot.slack.declare import open_declare_modal
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import input_value, metadata, text_value, user_id
from irbot.views.ids import Block, Callback, Shortcut
from irbot.views import answers
from irbot.views.shortcuts import link_modal

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.shortcut(Shortcut.DECLARE)
    async def declare_anywhere(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(open_declare_modal(deps, trigger_id=body["trigger_id"], user=user_id(body) or "",
                                            origin_channel=None), name="shortcut-declare")

    @app.shortcut(Shortcut.DECLARE_FROM_MESSAGE)
    async def declare_from_message(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_declare_from_message(deps, body), name="shortcut-declare-message")

    @app.shortcut(Shortcut.ADD_TO_TIMELINE)
    async def add_to_timeline(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_open_link_form(deps, body), name="shortcut-link")

    @app.view(Callback.ADD_TO_TIMELINE)
    async def link_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack(**await _link(deps, body, view))


async def _declare_from_message(deps: Deps, body: dict[str, Any]) -> None:
    channel = body["channel"]["id"]
    source = await origin.read_source(deps, channel, body["message"])
    await open_declare_modal(deps, trigger_id=body["trigger_id"], user=user_id(body) or "", origin_channel=channel,
                             source=source, names=await origin.names_in(source, deps))


async def _open_link_form(deps: Deps, body: dict[str, Any]) -> None:
    person, channel = user_id(body) or "", body["channel"]["id"]
    incidents = await visible_open_incidents(deps, person)
    if not incidents:
        await tell(deps, channel, person, answers.nothing_to_link_to(deps.renderer))
        return
    source = await origin.read_source(deps, channel, body["message"])
    notes = [] if source.get("readable") else [answers.unreadable_message(deps.renderer, channel=channel)]
    incidents.sort(key=lambda i: -i.number)  # the newest first
    view = link_modal(deps.renderer, incidents=[facts_of(i) for i in incidents], author=source.get("user"),
                      at=origin.source_time(source), notes=notes, metadata={"message": source})
    try:
        await deps.slack.call("views.open", trigger_id=body["trigger_id"], view=view)
    except SlackCallError as exc:
        if exc.code == "exchanged_trigger_id":
            return  # a repeat of the request whose form is open already
        log.warning("views.open failed: %s", exc.code)
        await tell(deps, channel, person, answers.form_failed(deps.renderer))


async def _link(deps: Deps, body: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """The ack's arguments: close the form, or say in it why not (resolved meanwhile, and so on)."""
    source = metadata(view).get("message")
    chosen = str(input_value(view, Block.LINK_INCIDENT) or "")
    if not isinstance(source, dict) or not source.get("ts") or not chosen.isdigit():
        return {}
    outcome, incident = await link_message(int(chosen), source, actor=user_id(body) or "",
                                           note=text_value(view, Block.LINK_NOTE), deps=deps)
    if outcome is Linked.ADDED:
        return {}
    ref = incident_ref(incident.number) if incident else ""
    return {"response_action": "errors",
            "errors": {Block.LINK_INCIDENT: answers.not_linked(deps.renderer, outcome, ref=ref)}}


# --- /incident convert [title] ---------------------------------------------------------------------

def _is_direct_message(ctx: CommandContext) -> bool:
    name = str(ctx.body.get("channel_name") or "")
    return not ctx.channel or ctx.channel.startswith("D") or name == "directmessage" or name.startswith("mpdm-")


@handles("convert")
async def convert(ctx: CommandContext) -> str | None:
    if _is_direct_message(ctx):
        return answers.convert_in_dm(ctx.deps.renderer)
    taken = await incident_in_channel(ctx.deps, ctx.channel)
    if taken is not None:
        return answers.convert_in_incident(ctx.deps.renderer, ref=incident_ref(taken.number))
    if ctx.trigger_id:
        ctx.deps.tasks.spawn(_open_convert_form(ctx), name="convert")
    return None


async def _open_convert_form(ctx: CommandContext) -> None:
    deps, channel = ctx.deps, ctx.channel or ""
    try:
        info = (await deps.slack.call("conversations.info", channel=channel))["channel"]
    except SlackCallError as exc:
        if exc.code not in origin.NOT_HERE:
            raise
        await tell(deps, None, ctx.user, answers.convert_not_member(deps.renderer))
        return
    if info.get("is_private") and not info.get("is_member"):
        await tell(deps, None, ctx.user, answers.convert_not_member(deps.renderer))
        return
    convert = {"channel": channel, "name": info.get("name") or ctx.body.get("channel_name"),
               "private": bool(info.get("is_private"))}
    await open_declare_modal(deps, trigger_id=ctx.trigger_id or "", user=ctx.user, origin_channel=channel,
                             title=ctx.command.rest, convert=convert)
