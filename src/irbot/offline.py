"""CLI work straight from the database, with no Slack: ``irbot postmortem INC-42 -o file.md``."""

from __future__ import annotations

import sys
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from irbot.config import ConfigError, Settings
from irbot.deps import Deps
from irbot.domain.incident import parse_ref
from irbot.render import Renderer
from irbot.services.postmortem import compile_postmortem, render
from irbot.slack.gateway import SlackGateway
from irbot.store import repo
from irbot.store.db import Database
from irbot.workspace import Workspace


def offline_deps(settings: Settings) -> Deps:
    """Deps whose Slack side is never called (online=False everywhere)."""
    gateway = SlackGateway(AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url))
    return Deps(settings=settings, db=Database(settings.database_url), slack=gateway,
                renderer=Renderer(settings.templates_dir), workspace=Workspace(gateway, settings.announce_channel))


async def write_postmortem(settings: Settings, ref: str, output: str | None) -> int:
    number = parse_ref(ref)
    if number is None:
        raise ConfigError(f"{ref!r} is not an incident id like INC-42")
    deps = offline_deps(settings)
    try:
        async with deps.db.session() as session:
            incident = await repo.incident_by_number(number, session=session)
        if incident is None:
            raise ConfigError(f"no incident INC-{number} in {settings.database_url}")
        document = render(await compile_postmortem(incident, deps, online=False), deps)
    finally:
        await deps.db.dispose()
    if output:
        Path(output).write_text(document, encoding="utf-8")
        print(f"irbot: wrote the post-mortem of INC-{number} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(document)
    return 0
