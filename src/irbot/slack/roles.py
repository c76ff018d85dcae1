"""Role controls: the card's Take buttons and Assign pickers, ``/incident assign`` and ``roles``."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.commands import mentioned_users
from irbot.domain.roles import match_role
from irbot.services import surfaces
from irbot.services.roles import change_role
from irbot.views import answers, usage
from irbot.views.blocks import role_from_block_id
from irbot.slack.commands import CommandContext, handles, in_incident
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Action
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import channel_id, user_id
from irbot.store.models import Incident

_AT_NAME = re.compile(r"^@?([\w.\-]+)$")


@handles("assign")
@in_incident
async def assign_command(ctx: CommandContext, incident: Incident) -> str | None:
    words = ctx.command.words
    renderer = ctx.deps.renderer
    if len(words) < 2:
        return usage.assign_usage(renderer)
    role = match_role(words[0], ctx.deps.settings.roles)
    if role is None:
        return usage.unknown_role(renderer, words[0], ctx.deps.settings.roles)
    target = await _person_from_text(ctx.deps, " ".join(words[1:]))
    if target is None:
        return usage.unknown_person(renderer, " ".join(words[1:]))
    outcome = await change_role(incident, role, target, actor=ctx.user, deps=ctx.deps)
    return answers.role_answer(renderer, outcome)


@handles("roles")
@in_incident
async def roles_command(ctx: CommandContext, incident: Incident) -> str | None:
    holders = await surfaces.holders_of(incident.id, ctx.deps)
    return answers.roles_listing(ctx.deps.renderer, ctx.deps.settings.roles, holders)


async def _person_from_text(deps: Deps, text: str) -> str | None:
    """``<@U123|alice>`` when Slack escaped the mention, else a plain ``@alice`` looked up by name."""
    found = mentioned_users(text)
    if found:
        return found[0]
    match = _AT_NAME.match(text.strip())
    if not match:
        return None
    return await _user_named(deps, match.group(1).lower())


async def _user_named(deps: Deps, name: str) -> str | None:
    try:
        async for member in deps.slack.paginate("users.list", "members", limit=200):
            profile = member.get("profile") or {}
            names = {member.get("name"), profile.get("display_name"), profile.get("real_name")}
            if name in {n.lower() for n in names if n}:
                return member.get("id")
    except SlackCallError:
        pass
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    async def role_action(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(_handle_role_action(deps, body, action), name="role-action")

    app.action(Action.ROLE_TAKE)(role_action)
    app.action(Action.ROLE_ASSIGN)(role_action)


async def _handle_role_action(deps: Deps, body: dict[str, Any], action: dict[str, Any]) -> None:
    actor, channel = user_id(body) or "", channel_id(body)
    incident = await incident_in_channel(deps, channel)
    if incident is None:
        return
    if action.get("action_id") == Action.ROLE_TAKE:
        role_key, target = action.get("value") or "", actor
    else:
        role_key, target = role_from_block_id(action.get("block_id") or "") or "", action.get("selected_user")
    role = deps.settings.role(role_key)
    if role is None or not target:
        return
    answer = answers.role_answer(deps.renderer, await change_role(incident, role, target, actor=actor, deps=deps))
    if answer:
        await tell(deps, channel, actor, answer)
