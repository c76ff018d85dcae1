"""``/incident publish`` (its form) and ``/incident unpublish``: the status page from Slack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.status_page import StatusRefused, parse_impact
from irbot.services import status_page
from irbot.services.incidents import incident_with_id
from irbot.slack.commands import CommandContext, handles, in_incident
from irbot.slack.payloads import input_value, metadata, text_value, user_id
from irbot.slack.updates import open_form
from irbot.store.models import Incident
from irbot.views import usage
from irbot.views.answers import refusal_text
from irbot.views.ids import Block, Callback
from irbot.views.status_page import publish_modal


@handles("publish")
@in_incident
async def publish_command(ctx: CommandContext, incident: Incident) -> str | None:
    try:
        await status_page.check_publisher(incident, ctx.user, ctx.deps)
    except StatusRefused as exc:
        return refusal_text(ctx.deps.renderer, exc)
    if ctx.trigger_id:
        ctx.deps.tasks.spawn(_open_publish_form(ctx.deps, ctx.trigger_id, incident, ctx.channel, ctx.user),
                             name="open-publish-form")
    return None


async def _open_publish_form(deps: Deps, trigger_id: str, incident: Incident, channel: str | None, user: str) -> None:
    current = await status_page.publication(incident.id, deps)
    settings = status_page.page_settings(deps)
    view = publish_modal(deps.renderer, settings=settings,
                         title=current.title if current else incident.title,
                         impact=current.impact if current else None,
                         components=current.components if current else [], metadata={"incident": incident.id})
    await open_form(deps, trigger_id, view, channel, user)


@handles("unpublish")
@in_incident
async def unpublish_command(ctx: CommandContext, incident: Incident) -> str | None:
    try:
        await status_page.unpublish(incident, actor=ctx.user, deps=ctx.deps)  # stored before the ack
    except StatusRefused as exc:
        return refusal_text(ctx.deps.renderer, exc)
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.STATUS_PUBLISH)
    async def publish_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident = await incident_with_id(deps, metadata(view).get("incident"))
        title = " ".join(text_value(view, Block.STATUS_TITLE).split())[:status_page.PUBLIC_TITLE_MAX]
        message = text_value(view, Block.STATUS_MESSAGE).strip()[:status_page.PUBLIC_TEXT_MAX]
        impact = parse_impact(input_value(view, Block.STATUS_IMPACT))
        chosen = input_value(view, Block.STATUS_COMPONENTS)
        errors: dict[str, str] = {}
        if incident is None or not title:
            errors[Block.STATUS_TITLE] = usage.public_title_empty(deps.renderer)
        if impact is None:
            errors[Block.STATUS_IMPACT] = usage.impact_missing(deps.renderer)
        if not message:
            errors[Block.STATUS_MESSAGE] = usage.public_message_empty(deps.renderer)
        if errors or incident is None or impact is None:
            await ack(response_action="errors", errors=errors)
            return
        form = status_page.PublishForm(
            title=title, impact=impact, message=message, source_key=f"view:{view.get('id')}",
            components=tuple(str(c) for c in chosen) if isinstance(chosen, list) else ())
        try:  # stored before the form closes
            await status_page.publish(incident, form, actor=user_id(body) or "", deps=deps)
        except StatusRefused as exc:
            await ack(response_action="errors", errors={Block.STATUS_MESSAGE: refusal_text(deps.renderer, exc)[:2000]})
            return
        await ack()
