"""Capture (Events API), ``note``, ``timeline``, ``action`` and ``postmortem``."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.timeline import KEY_KINDS, Record
from irbot.services import actions as action_items
from irbot.services import followups
from irbot.services import surfaces
from irbot.services.timeline import add_note, capture_event
from irbot.views import answers, blocks, usage
from irbot.slack.commands import Answer, CommandContext, handles, in_incident
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Action
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import channel_id, user_id
from irbot.store import repo
from irbot.store.models import Incident

log = logging.getLogger(__name__)
CAPTURED_EVENTS = ("message", "reaction_added", "pin_added")
ACKNOWLEDGED_ONLY = ("reaction_removed", "pin_removed")  # membership events: slack/membership.py
KEY_TIMELINE_LENGTH = 40  # `/incident timeline` shows the latest key moments; the post-mortem has them all


@handles("note")
@in_incident
async def note_command(ctx: CommandContext, incident: Incident) -> Answer:
    if not ctx.command.rest:
        return usage.note_usage(ctx.deps.renderer)
    await add_note(incident, ctx.command.rest, actor=ctx.user, deps=ctx.deps)
    return answers.note_saved(ctx.deps.renderer)


@handles("timeline")
@in_incident
async def timeline_command(ctx: CommandContext, incident: Incident) -> str | None:
    deps = ctx.deps
    async with deps.db.reader() as session:
        rows = await repo.latest_timeline_rows(incident.id, KEY_KINDS, KEY_TIMELINE_LENGTH, session=session)
    roles = {r.key: r.name for r in deps.settings.roles}
    return answers.key_timeline(deps.renderer, incident=surfaces.facts_of(incident),
                                records=[Record(*row) for row in rows], roles=roles)


@handles("action", "actions")
@in_incident
async def action_command(ctx: CommandContext, incident: Incident) -> Answer:
    deps = ctx.deps
    verb, _, rest = ctx.command.rest.partition(" ")
    verb = verb.lower()
    if verb == "add":
        draft = action_items.parse_action(rest)
        if draft is None:
            return usage.action_usage(deps.renderer)
        await action_items.add_action(incident, draft, actor=ctx.user, deps=deps)  # the channel is told
        return None
    if verb in ("list", ""):
        items = await action_items.actions(incident, deps)
        if not items:
            return answers.no_actions(deps.renderer)
        issues = await followups.issues_of(incident, deps)
        return blocks.action_list(deps.renderer, surfaces.facts_of(incident), items, issues=issues)
    if verb in ("done", "complete", "start") and rest.strip().lstrip("#").isdigit():
        status = "in_progress" if verb == "start" else "completed"
        return await _set_status(deps, incident, int(rest.strip().lstrip("#")), status, ctx.user)
    return usage.action_usage(deps.renderer)


async def _set_status(deps: Deps, incident: Incident, number: int, status: str, actor: str) -> str | None:
    item = await action_items.set_action_status(incident, number, status, actor=actor, deps=deps)
    if item is None:
        return answers.action_missing(deps.renderer, number=number)
    return None  # the channel is told


@handles("postmortem", "pm")
@in_incident
async def postmortem_command(ctx: CommandContext, incident: Incident) -> str | None:
    # Imported when a post-mortem is asked for, not by every serving process at start-up.
    from irbot.services.postmortem import claim_compile

    facts = surfaces.facts_of(incident)
    # One compile per incident at a time, across processes: a second request would upload a second
    # file for the same words. It is told the one under way will appear in the channel.
    if not await claim_compile(incident, ctx.deps):
        return answers.postmortem_in_progress(ctx.deps.renderer, incident=facts)
    ctx.deps.tasks.spawn(_publish(ctx.deps, incident, ctx.user), name=f"postmortem-{incident.number}")
    return answers.postmortem_started(ctx.deps.renderer, incident=facts)


async def _publish(deps: Deps, incident: Incident, actor: str) -> None:
    from irbot.services.postmortem import publish_postmortem

    try:
        await publish_postmortem(incident, actor=actor, deps=deps)
    except SlackCallError as exc:
        log.error("post-mortem of INC-%d failed: %s", incident.number, exc)
        await tell(deps, incident.channel_id, actor, answers.postmortem_failed(deps.renderer, problem=exc.code))
    except Exception:  # the person was told "Compiling…": never leave them waiting without a word
        log.exception("post-mortem of INC-%d failed", incident.number)
        await tell(deps, incident.channel_id, actor,
                   answers.postmortem_failed(deps.renderer, problem="an unexpected error"))


def register(app: AsyncApp, deps: Deps) -> None:
    async def capture(ack: AsyncAck, event: dict[str, Any]) -> None:
        # Stored before the ack: if the database fails, Slack sees an error and delivers again.
        await capture_event(event, deps)
        await ack()

    async def acknowledge(ack: AsyncAck) -> None:
        await ack()

    for event_type in CAPTURED_EVENTS:
        app.event(event_type)(capture)
    for event_type in ACKNOWLEDGED_ONLY:
        app.event(event_type)(acknowledge)

    async def action_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_action_clicked(deps, body, action), name="action-status")

    app.action(Action.ACTION_STATUS)(action_button)


async def _action_clicked(deps: Deps, body: dict[str, Any], action: dict[str, Any]) -> None:
    incident = await incident_in_channel(deps, channel_id(body))
    number, _, status = (action.get("value") or "").partition(":")
    if incident is not None and number.isdigit() and status in action_items.STATUSES:
        answer = await _set_status(deps, incident, int(number), status, user_id(body) or "")
        if answer:
            await tell(deps, incident.channel_id, user_id(body) or "", answer)
