"""``/incident``: ack at once, then route the subcommand to its handler.

Handlers get a :class:`CommandContext` and return the text of an ephemeral answer (or None when
they answer some other way, such as opening a modal). Slow work is spawned, never awaited here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.commands import Command, parse_command
from irbot.services import listing
from irbot.views import answers, blocks
from irbot.slack.declare import open_declare_modal
from irbot.slack.incident_context import incident_in_channel
from irbot.store.models import Incident


@dataclass(frozen=True)
class CommandContext:
    deps: Deps
    command: Command
    user: str
    channel: str | None
    trigger_id: str | None
    body: dict[str, Any]


# A handler answers with text or a ready message (shown only to the person), or None when it
# answers some other way (a form, a channel message posted after the ack).
Answer = str | blocks.Message | None
Handler = Callable[[CommandContext], Awaitable[Answer]]
HANDLERS: dict[str, Handler] = {}


def handles(*verbs: str) -> Callable[[Handler], Handler]:
    def register_handler(handler: Handler) -> Handler:
        for verb in verbs:
            HANDLERS[verb] = handler
        return handler
    return register_handler


@handles("declare")
async def declare(ctx: CommandContext) -> str | None:
    if ctx.trigger_id:
        ctx.deps.tasks.spawn(open_declare_modal(ctx.deps, trigger_id=ctx.trigger_id, user=ctx.user,
                                                origin_channel=ctx.channel, title=ctx.command.rest))
    return None


@handles("drill")
async def drill(ctx: CommandContext) -> str | None:
    if ctx.trigger_id:
        ctx.deps.tasks.spawn(open_declare_modal(ctx.deps, trigger_id=ctx.trigger_id, user=ctx.user,
                                                origin_channel=ctx.channel, title=ctx.command.rest, drill=True))
    return None


@handles("help")
async def show_help(ctx: CommandContext) -> str | None:
    return help_text(ctx.deps)


@handles("list")
async def list_incidents(ctx: CommandContext) -> str | None:
    return answers.incident_list(ctx.deps.renderer, await listing.open_incidents_seen_by(ctx.deps, viewer=ctx.user))


InIncidentHandler = Callable[[CommandContext, Incident], Awaitable[Answer]]


def in_incident(handler: InIncidentHandler) -> Handler:
    """For subcommands that only make sense inside an incident channel."""
    async def run(ctx: CommandContext) -> Answer:
        incident = await incident_in_channel(ctx.deps, ctx.channel)
        if incident is None:
            return answers.not_in_incident(ctx.deps.renderer)
        return await handler(ctx, incident)
    return run


def help_text(deps: Deps, unknown: str | None = None) -> str:
    extra = [r for r in deps.settings.roles if r.key not in ("commander", "tech_lead", "comms_lead")]
    return answers.help_text(deps.renderer, extra_roles=extra, announce_problem=deps.workspace.announce_problem,
                             unknown=unknown)


def register(app: AsyncApp, deps: Deps) -> None:
    # The help answer changes only with the announcement channel's state: rendered once per state
    # (a burst of /incident help is the commonest burst of all).
    help_messages: dict[str | None, blocks.Message] = {}

    def help_message() -> blocks.Message:
        key = deps.workspace.announce_problem
        if key not in help_messages:
            help_messages[key] = blocks.text_message(help_text(deps))
        return help_messages[key]

    @app.command("/incident")
    async def incident_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        command = parse_command(body.get("text") or "")
        ctx = CommandContext(deps=deps, command=command, user=body.get("user_id") or "",
                             channel=body.get("channel_id"), trigger_id=body.get("trigger_id"), body=body)
        handler = HANDLERS.get(command.verb)
        if command.verb in ("", "help"):
            answer: Answer = help_message()
        else:
            answer = await handler(ctx) if handler else help_text(deps, unknown=command.verb)
        if not answer:
            await ack()
            return
        message = answer if isinstance(answer, blocks.Message) else blocks.text_message(answer)
        await ack(text=message.text, blocks=message.blocks, response_type="ephemeral")
