"""CLI work straight from the database, with no Slack: ``irbot postmortem INC-42 -o file.md``.

``irbot verify`` and ``irbot export`` need only the store: Slack's client, the templates and the
services are imported where the other commands use them (a tenth of verifying 100,000 records went
to importing them)."""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator

from irbot.config import ConfigError, Settings
from irbot.domain.evidence import verify_chain
from irbot.perf import gc_paused
from irbot.domain.incident import parse_ref
from irbot.domain.report import ReportInputError, parse_period
from irbot.store import repo
from irbot.store.db import Database, sync_url
from irbot.store.models import Incident

if TYPE_CHECKING:
    from irbot.deps import Deps


def offline_deps(settings: Settings) -> Deps:
    """Deps whose Slack side is never called (online=False everywhere)."""
    from slack_sdk.web.async_client import AsyncWebClient

    from irbot.deps import Deps
    from irbot.views.render import Renderer
    from irbot.outbound.slack import SlackGateway
    from irbot.outbound.workspace import Workspace

    gateway = SlackGateway(AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url))
    return Deps(settings=settings, db=Database(settings.database_url), slack=gateway,
                renderer=Renderer(settings.templates_dir), workspace=Workspace(gateway, settings.announce_channel))


async def _incident(db: Database, ref: str) -> Incident:
    number = parse_ref(ref)
    if number is None:
        raise ConfigError(f"{ref!r} is not an incident id like INC-42")
    async with db.reader() as session:
        incident = await repo.incident_by_number(number, session=session)
    if incident is None:
        raise ConfigError(f"no incident INC-{number} in this database")
    return incident


def where(url: str) -> str:
    """The database as an operator recognises it: a SQLite file's full path, else the URL without its password."""
    parsed = sync_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def require_irbot_database(url: str) -> None:
    """Commands that only read never create or migrate a database: a missing one is one line."""
    from irbot.store.migrate import SchemaMismatch, require_schema

    try:
        require_schema(url)
    except SchemaMismatch as exc:
        if exc.revision is None:
            raise ConfigError(f"no irbot database at {where(url)}; run `irbot demo` or `irbot serve` first, "
                              "or name one with --database URL") from None
        if exc.known:
            raise ConfigError(f"the database at {where(url)} has an older schema; run `irbot migrate` "
                              "(or `irbot serve`) first") from None
        raise ConfigError(f"the database at {where(url)} was written by a newer irbot "
                          f"(schema {exc.revision}); use that version") from None
    except ModuleNotFoundError as exc:  # the PostgreSQL driver is an extra
        raise ConfigError(f"cannot read {where(url)}: its driver {exc.name} is not installed "
                          "(pip install 'irbot[postgres]')") from None


@asynccontextmanager
async def offline(settings: Settings) -> AsyncIterator[Deps]:
    require_irbot_database(settings.database_url)
    deps = offline_deps(settings)
    try:
        yield deps
    finally:
        await deps.db.dispose()


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The database alone, for the commands that read the evidence chain."""
    require_irbot_database(settings.database_url)
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.dispose()


def _write(text: str, output: str | None, what: str) -> None:
    """To the file named by ``-o`` (saying so on stderr), or to standard output."""
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"irbot: wrote {what} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


async def verify(settings: Settings, ref: str) -> int:
    """``irbot verify INC-7``: recompute the evidence chain; exit 0 with the head, 1 naming a bad record."""
    async with database(settings) as db:
        incident = await _incident(db, ref)
        async with db.reader() as session:  # SQLite: a serving irbot's writes need not wait meanwhile
            records = await repo.evidence(incident.id, session=session)
    with gc_paused():
        verdict = verify_chain(records)
    name = f"INC-{incident.number}"
    if verdict.ok:
        print(f"{name}: {verdict.count} records, head {verdict.head}")
        return 0
    print(f"{name}: record {verdict.bad_seq} does not match ({verdict.reason}); "
          f"{verdict.count} records before it verify", file=sys.stderr)
    return 1


async def export(settings: Settings, ref: str, output: str | None) -> int:
    """``irbot export INC-7``: the chain as JSON lines, for a third party to verify."""
    async with database(settings) as db:
        incident = await _incident(db, ref)
        async with db.reader() as session:
            records = await repo.evidence(incident.id, session=session)
    lines = "".join(json.dumps(r.as_json(), sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    _write(lines, output, f"{len(records)} records of INC-{incident.number}")
    return 0


async def write_postmortem(settings: Settings, ref: str, output: str | None) -> int:
    from irbot.services.postmortem import compile_postmortem, render

    async with offline(settings) as deps:
        incident = await _incident(deps.db, ref)
        document = render(await compile_postmortem(incident, deps, online=False), deps)
    _write(document, output, f"the post-mortem of INC-{incident.number}")
    return 0


async def report(settings: Settings, since: str | None, until: str | None, fmt: str, output: str | None) -> int:
    """``irbot report --since 2026-01-01 --format csv``: the incident report, drills left out."""
    from irbot.services.report import compile_report, render_csv
    from irbot.views.messages.report import document as markdown

    now = datetime.now(timezone.utc)
    try:
        period = parse_period(since, until, tz=settings.timezone, now=now)
    except ReportInputError as exc:
        raise ConfigError(f"report: {exc}") from None
    async with offline(settings) as deps:
        compiled = await compile_report(period, deps, now=now)
        document = render_csv(compiled) if fmt == "csv" else markdown(deps.renderer, compiled)
    _write(document, output, f"the report of {compiled.total.count} incidents")
    return 0
