"""``/incident report``: answer at once, then share the report as a Markdown file."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from irbot.deps import Deps
from irbot.slack.commands import Answer, CommandContext, handles
from irbot.outbound.slack import SlackCallError
from irbot.slack.incident_context import tell
from irbot.views import answers

if TYPE_CHECKING:
    from irbot.domain.report import Period

log = logging.getLogger(__name__)


@handles("report")
async def report_command(ctx: CommandContext) -> Answer:
    # Imported when a report is asked for: a serving process that is never asked keeps them (and
    # the statistics module) out of memory.
    from irbot.domain.report import ReportInputError, parse_period, parse_report_words

    deps = ctx.deps
    try:
        since, until = parse_report_words(ctx.command.words)
        period = parse_period(since, until, tz=deps.settings.timezone, now=deps.clock())
    except ReportInputError as exc:
        return answers.report_usage(deps.renderer, problem=str(exc))
    deps.tasks.spawn(_share(deps, period, ctx.user, ctx.channel), name="report")
    return answers.report_started(deps.renderer)


async def _share(deps: Deps, period: Period, user: str, channel: str | None) -> None:
    from irbot.services.report import publish_report

    try:
        await publish_report(period, actor=user, channel=channel, deps=deps)
    except SlackCallError as exc:
        log.error("incident report for %s failed: %s", user, exc)
        await tell(deps, channel, user, answers.report_failed(deps.renderer, problem=exc.code))


def register(app: AsyncApp, deps: Deps) -> None:
    """The subcommand registers itself with ``@handles``; nothing else to listen for."""
