"""``/incident clock|notified|hold`` and the card's "Mark notified" buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.clocks import match_regulation
from irbot.domain.declare import parse_local_time
from irbot.services.clocks import ClockRefused, mark_notified, place_legal_hold, require_clock_keeper, start_clock
from irbot.slack.commands import Answer, CommandContext, handles, in_incident
from irbot.views.ids import Action
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import channel_id, user_id
from irbot.store.models import Incident
from irbot.views import answers, usage
from irbot.views.answers import refusal_text


@handles("clock")
@in_incident
async def clock_command(ctx: CommandContext, incident: Incident) -> Answer:
    deps, words = ctx.deps, ctx.command.words
    regulation = match_regulation(words[0], deps.settings.regulations) if words else None
    aware_at = deps.clock()
    if len(words) >= 2:
        aware_at = parse_local_time(" ".join(words[2:]), deps.settings.timezone) if words[1].lower() == "aware" \
            else None
    if regulation is None or aware_at is None:
        return usage.clock_usage(deps.renderer, deps.settings.regulations)
    try:
        await require_clock_keeper(incident, ctx.user, deps, legal_too=False)
    except ClockRefused as exc:
        return refusal_text(ctx.deps.renderer, exc)
    clock = await start_clock(incident, regulation, aware_at=min(aware_at, deps.clock()), actor=ctx.user, deps=deps,
                              tell_channel=True)
    if clock is None:
        return answers.clock_running(deps.renderer, regime=regulation.key)
    return None


@handles("notified")
@in_incident
async def notified_command(ctx: CommandContext, incident: Incident) -> Answer:
    words = ctx.command.rest.split(maxsplit=1)
    regulation = match_regulation(words[0], ctx.deps.settings.regulations) if words else None
    if regulation is None:
        return usage.notified_usage(ctx.deps.renderer)
    reference = words[1].strip() if len(words) > 1 else ""
    try:  # stored before the ack: the reference is evidence of the notification
        await mark_notified(incident, regulation.key, actor=ctx.user, reference=reference, deps=ctx.deps)
    except ClockRefused as exc:
        return refusal_text(ctx.deps.renderer, exc)
    return None


async def _notify(deps: Deps, incident: Incident, regime: str, actor: str, reference: str) -> None:
    try:
        await mark_notified(incident, regime, actor=actor, reference=reference, deps=deps)
    except ClockRefused as exc:
        await tell(deps, incident.channel_id, actor, refusal_text(deps.renderer, exc))


@handles("hold")
@in_incident
async def hold_command(ctx: CommandContext, incident: Incident) -> Answer:
    try:
        await place_legal_hold(incident, actor=ctx.user, deps=ctx.deps)
    except ClockRefused as exc:
        return refusal_text(ctx.deps.renderer, exc)
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(Action.CLOCK_NOTIFIED)
    async def notified_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_button(deps, body, action), name="clock-notified")


async def _button(deps: Deps, body: dict[str, Any], action: dict[str, Any]) -> None:
    incident = await incident_in_channel(deps, channel_id(body))
    if incident is not None:
        await _notify(deps, incident, action.get("value") or "", user_id(body) or "", "")
