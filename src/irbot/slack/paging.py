"""``/incident page <service> [message]``: anyone in the incident channel may page a service."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from irbot.deps import Deps
from irbot.services.paging import page_service
from irbot.slack.commands import Answer, CommandContext, handles, in_incident
from irbot.store.models import Incident
from irbot.views import answers


@handles("page")
@in_incident
async def page_command(ctx: CommandContext, incident: Incident) -> Answer:
    service, _, message = ctx.command.rest.partition(" ")
    answer = await page_service(incident, service.strip(), message, actor=ctx.user, deps=ctx.deps)
    return answers.page_answer(ctx.deps.renderer, answer)


def register(app: AsyncApp, deps: Deps) -> None:
    """The subcommand registers itself with ``@handles``; nothing else to listen for."""
