"""``/incident followups``: the open action items the person can see, across incidents."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from irbot.deps import Deps
from irbot.services.overdue import visible_followups
from irbot.slack.commands import Answer, CommandContext, handles
from irbot.views import answers


@handles("followups", "follow-ups")
async def followups_command(ctx: CommandContext) -> Answer:
    seen = await visible_followups(ctx.deps, ctx.user)
    return answers.followups(ctx.deps.renderer, seen.follow_ups, today=seen.today)


def register(app: AsyncApp, deps: Deps) -> None:
    """The subcommand registers itself with ``@handles``; nothing else to listen for."""
