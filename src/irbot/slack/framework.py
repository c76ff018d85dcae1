"""The framework in Slack: ``/incident assess`` (apply or declare with the suggestion) and the
playbook checklist's Done buttons."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.assessment import Assessment, assess
from irbot.domain.status import TransitionError
from irbot.services import playbooks
from irbot.services.updates import NotAllowed, change_severity
from irbot.views import answers, blocks
from irbot.slack.commands import CommandContext, handles
from irbot.slack.declare import declare_view
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Action, Block, Callback
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import channel_id, input_value, metadata, user_id
from irbot.slack.updates import open_form
from irbot.services.incidents import incident_with_id
from irbot.views.answers import refusal_text

log = logging.getLogger(__name__)


@handles("assess")
async def assess_command(ctx: CommandContext) -> str | None:
    incident = await incident_in_channel(ctx.deps, ctx.channel)
    if ctx.trigger_id:
        view = blocks.assess_modal(ctx.deps.renderer, weights=ctx.deps.settings.assessment.weights,
                                   metadata={"origin": ctx.channel, "incident": incident.id if incident else None})
        ctx.deps.tasks.spawn(open_form(ctx.deps, ctx.trigger_id, view, ctx.channel, ctx.user), name="open-assess")
    return None


def _levels(view: dict[str, Any]) -> dict[str, int] | None:
    levels = {}
    for factor in blocks.ASSESS_FACTORS:
        value = str(input_value(view, f"{Block.ASSESS_PREFIX}{factor}") or "")
        if value not in ("1", "2", "3", "4"):
            return None
        levels[factor] = int(value)
    return levels


def _context(deps: Deps, assessment: Assessment) -> dict[str, Any]:
    rules = deps.settings.assessment
    return {"assessment": assessment, "severity": deps.settings.severity(assessment.suggested),
            "weights": rules.weights, "thresholds": rules.thresholds, "fallback": rules.fallback}


def _result(deps: Deps, meta: dict[str, Any], note: str | None = None) -> dict[str, Any]:
    assessment = assess(meta["levels"], deps.settings.assessment)
    action = Action.ASSESS_APPLY if meta.get("incident") else Action.ASSESS_DECLARE
    return blocks.assess_result(deps.renderer, context=_context(deps, assessment), metadata=meta,
                                action=None if note else action, note=note)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.ASSESS)
    async def assessed(ack: AsyncAck, view: dict[str, Any]) -> None:
        levels = _levels(view)
        if levels is None:  # a result view submitted again has no inputs: just close it
            await ack()
            return
        meta = {**metadata(view), "levels": levels}
        await ack(response_action="update", view=_result(deps, meta))

    @app.action(Action.ASSESS_APPLY)
    async def apply(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_apply(deps, body), name="assess-apply")

    @app.action(Action.ASSESS_DECLARE)
    async def declare_with(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_declare_with(deps, body), name="assess-declare")

    @app.action(Action.PLAYBOOK_TICK)
    async def tick(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_tick(deps, body, action), name="playbook-tick")


async def _apply(deps: Deps, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    meta = metadata(view)
    actor = user_id(body) or ""
    incident = await incident_with_id(deps, meta.get("incident"))
    if incident is None or "levels" not in meta:
        return
    assessment = assess(meta["levels"], deps.settings.assessment)
    context = _context(deps, assessment)
    reason = answers.assessment_reason(deps.renderer, context)
    try:
        changed = await change_severity(incident, deps.settings.severity(assessment.suggested), actor=actor,
                                        deps=deps, reason=reason, details={"assessment": meta["levels"],
                                                                            "score": assessment.score})
        note = answers.assessment_applied(deps.renderer, context, changed=changed is not None)
    except (NotAllowed, TransitionError) as exc:
        note = refusal_text(deps.renderer, exc)
    try:
        await deps.slack.call("views.update", view_id=view.get("id"), view=_result(deps, meta, note=note))
    except SlackCallError as exc:  # the person closed the form meanwhile: tell them where they are
        log.info("assessment view gone (%s)", exc.code)
        await tell(deps, incident.channel_id, actor, note)


async def _declare_with(deps: Deps, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    meta = metadata(view)
    if "levels" not in meta:
        return
    assessment = assess(meta["levels"], deps.settings.assessment)
    declare = declare_view(deps, origin_channel=meta.get("origin"), severity=assessment.suggested)
    await deps.slack.call("views.update", view_id=view.get("id"), hash=view.get("hash"), view=declare)


async def _tick(deps: Deps, body: dict[str, Any], action: dict[str, Any]) -> None:
    incident = await incident_in_channel(deps, channel_id(body))
    value = action.get("value") or ""
    if incident is None or not value.isdigit():
        return
    already = await playbooks.tick(incident, int(value), actor=user_id(body) or "", deps=deps)
    if already is not None:
        await tell(deps, incident.channel_id, user_id(body) or "", answers.already_ticked(deps.renderer, already))
