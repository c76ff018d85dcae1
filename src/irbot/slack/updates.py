"""``/incident update|status|severity|resolve``, the update and resolve forms, the card's
severity picker and the reminder's "Post an update" button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.durations import parse_duration
from irbot.domain.severities import match_severity
from irbot.domain.status import Status, TransitionError, parse_status
from irbot.domain.status_page import StatusRefused
from irbot.services import status_page, surfaces
from irbot.services.updates import (
    NotAllowed, Update, change_severity, change_status, post_update, require_commander, resolve,
    status_choices,
)
from irbot.views import answers, blocks, usage
from irbot.slack.commands import CommandContext, handles, in_incident
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Action, Block, Callback
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import channel_id, input_value, metadata, text_value, user_id
from irbot.services.incidents import incident_with_id
from irbot.store.models import Incident
from irbot.views.answers import refusal_text

log = logging.getLogger(__name__)


async def open_form(deps: Deps, trigger_id: str, view: dict[str, Any], channel: str | None, user: str) -> None:
    try:
        await deps.slack.call("views.open", trigger_id=trigger_id, view=view)
    except SlackCallError as exc:
        log.warning("views.open failed: %s", exc.code)
        await tell(deps, channel, user, answers.form_failed(deps.renderer))


def _update_form(deps: Deps, incident: Incident, *, public: bool = False) -> dict[str, Any]:
    return blocks.update_modal(deps.renderer, statuses=status_choices(Status(incident.status)),
                               current=incident.status, metadata={"incident": incident.id}, public=public)


async def _open_update_form(deps: Deps, trigger_id: str, incident: Incident, channel: str | None, user: str) -> None:
    """The form offers "Also post on the status page" while the incident is on it, to those who may publish."""
    public = await status_page.offers_public_update(incident, user, deps)
    await open_form(deps, trigger_id, _update_form(deps, incident, public=public), channel, user)


async def _open_resolve(deps: Deps, trigger_id: str, incident: Incident, channel: str | None, user: str) -> None:
    public = await status_page.publication(incident.id, deps) is not None
    await open_form(deps, trigger_id, blocks.resolve_modal(deps.renderer, metadata={"incident": incident.id},
                                                           public=public), channel, user)


@handles("update")
@in_incident
async def update_command(ctx: CommandContext, incident: Incident) -> str | None:
    if ctx.trigger_id:
        ctx.deps.tasks.spawn(_open_update_form(ctx.deps, ctx.trigger_id, incident, ctx.channel, ctx.user),
                             name="open-update-form")
    return None


@handles("resolve")
@in_incident
async def resolve_command(ctx: CommandContext, incident: Incident) -> str | None:
    return await _open_resolve_form(ctx, incident)


async def _open_resolve_form(ctx: CommandContext, incident: Incident) -> str | None:
    try:
        await require_commander(incident, ctx.user, ctx.deps)
    except NotAllowed as exc:
        return refusal_text(ctx.deps.renderer, exc)
    if Status(incident.status) != Status.RESOLVED and ctx.trigger_id:
        ctx.deps.tasks.spawn(_open_resolve(ctx.deps, ctx.trigger_id, incident, ctx.channel, ctx.user),
                             name="open-resolve")
        return None
    return refusal_text(ctx.deps.renderer, TransitionError("already_resolved", ref=surfaces.facts_of(incident).ref))


@handles("status")
@in_incident
async def status_command(ctx: CommandContext, incident: Incident) -> str | None:
    new = parse_status(ctx.command.rest) if ctx.command.rest else None
    if new is None:
        return usage.status_usage(ctx.deps.renderer, [s.value for s in Status])
    if new == Status.RESOLVED:
        return await _open_resolve_form(ctx, incident)
    try:
        await change_status(incident, new, actor=ctx.user, deps=ctx.deps)  # stored before the ack
    except (NotAllowed, TransitionError) as exc:
        return refusal_text(ctx.deps.renderer, exc)
    return None


@handles("severity", "sev")
@in_incident
async def severity_command(ctx: CommandContext, incident: Incident) -> str | None:
    deps = ctx.deps
    severity = match_severity(ctx.command.rest, deps.settings.severities) if ctx.command.rest else None
    if severity is None:
        return usage.severity_usage(deps.renderer, deps.settings.severities)
    try:
        changed = await change_severity(incident, severity, actor=ctx.user, deps=deps)  # stored before the ack
    except NotAllowed as exc:
        return refusal_text(ctx.deps.renderer, exc)
    if changed is None:
        return answers.same_severity(deps.renderer, incident=surfaces.facts_of(incident), severity=severity)
    return None


async def _change(deps: Deps, incident: Incident, actor: str, change: Any) -> bool:
    """Run a change after the ack; a refusal (someone changed things meanwhile) is told to the actor."""
    try:
        await change
        return True
    except (NotAllowed, TransitionError) as exc:
        await tell(deps, incident.channel_id, actor, refusal_text(deps.renderer, exc))
        return False


def _next_update(view: dict[str, Any], deps: Deps) -> Any:
    choice = input_value(view, Block.UPDATE_NEXT)
    return deps.clock() + parse_duration(choice).calendar() if choice else None


async def _incident_from(deps: Deps, view: dict[str, Any]) -> Incident | None:
    return await incident_with_id(deps, metadata(view).get("incident"))


async def _public_text(deps: Deps, incident: Incident, view: dict[str, Any],
                       actor: str) -> tuple[str | None, str | None]:
    """The update's text for the status page when "Also post on the status page" is ticked (its own
    text, required: the internal text is never published), and what is wrong with it, if anything."""
    if "public" not in (input_value(view, Block.UPDATE_PUBLIC) or []):
        return None, None
    text = text_value(view, Block.UPDATE_PUBLIC_TEXT).strip()[:status_page.PUBLIC_TEXT_MAX]
    if not text:
        return None, usage.public_text_empty(deps.renderer)
    if await status_page.publication(incident.id, deps) is None:
        return None, usage.no_longer_published(deps.renderer)
    try:
        await status_page.check_publisher(incident, actor, deps)
    except StatusRefused as exc:
        return None, refusal_text(deps.renderer, exc)[:2000]
    return text, None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.UPDATE)
    async def update_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident = await _incident_from(deps, view)
        text = text_value(view, Block.UPDATE_TEXT).strip()
        status = parse_status(str(input_value(view, Block.UPDATE_STATUS) or "")) or Status.INVESTIGATING
        if incident is None or not text:
            await ack(response_action="errors", errors={
                Block.UPDATE_TEXT: usage.update_text_empty(deps.renderer)})
            return
        public, problem = await _public_text(deps, incident, view, user_id(body) or "")
        if problem:
            await ack(response_action="errors", errors={Block.UPDATE_PUBLIC_TEXT: problem})
            return
        update = Update(text=text, status=status, next_update=_next_update(view, deps),
                        source_key=f"view:{view.get('id')}", public_text=public)
        try:  # stored before the form closes: what the person wrote is never lost
            await post_update(incident, update, actor=user_id(body) or "", deps=deps)
        except (NotAllowed, TransitionError) as exc:
            await ack(response_action="errors", errors={Block.UPDATE_STATUS: refusal_text(deps.renderer, exc)[:2000]})
            return
        await ack()

    @app.view(Callback.RESOLVE)
    async def resolve_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident = await _incident_from(deps, view)
        summary = " ".join(text_value(view, Block.RESOLUTION).split())
        if incident is None or not summary:
            await ack(response_action="errors", errors={
                Block.RESOLUTION: usage.resolution_empty(deps.renderer)})
            return
        try:  # stored before the form closes
            await resolve(incident, summary, actor=user_id(body) or "", deps=deps,
                          public_text=text_value(view, Block.RESOLUTION_PUBLIC).strip()[:status_page.PUBLIC_TEXT_MAX])
        except (NotAllowed, TransitionError) as exc:
            await ack(response_action="errors", errors={Block.RESOLUTION: refusal_text(deps.renderer, exc)[:2000]})
            return
        await ack()

    @app.action(Action.UPDATE_OPEN)
    async def update_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incident = await incident_in_channel(deps, channel_id(body))
        if incident is not None and body.get("trigger_id"):
            deps.tasks.spawn(_open_update_form(deps, body["trigger_id"], incident, channel_id(body),
                                               user_id(body) or ""), name="open-update-form")

    @app.action(Action.SEVERITY_CHANGE)
    async def severity_picked(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_severity_from_card(deps, body, action), name="severity-from-card")


async def _severity_from_card(deps: Deps, body: dict[str, Any], action: dict[str, Any]) -> None:
    actor, channel = user_id(body) or "", channel_id(body)
    incident = await incident_in_channel(deps, channel)
    chosen = ((action.get("selected_option") or {}).get("value")) or ""
    severity = match_severity(chosen, deps.settings.severities)
    if incident is None or severity is None:
        return
    if not await _change(deps, incident, actor, change_severity(incident, severity, actor=actor, deps=deps)):
        await surfaces.refresh_surfaces(incident, deps)  # put the picker back to the stored level
