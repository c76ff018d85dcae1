"""The ``irbot`` command line. Configuration problems are one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Sequence

from irbot import logs
from irbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from irbot.app import Irbot

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irbot", description="Incident response in Slack.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the bot (HTTP mode; Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--socket-mode", action="store_true", help="connect through Socket Mode")
    commands.add_parser("migrate", help="bring the database schema up to date")
    postmortem = commands.add_parser("postmortem", help="write an incident's post-mortem from the database")
    postmortem.add_argument("incident", help="the incident, e.g. INC-42")
    postmortem.add_argument("-o", "--output", help="file to write (default: standard output)")
    verify = commands.add_parser("verify", help="check an incident's evidence chain")
    verify.add_argument("incident", help="the incident, e.g. INC-42")
    export = commands.add_parser("export", help="write an incident's evidence chain as JSON lines")
    export.add_argument("incident", help="the incident, e.g. INC-42")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    report = commands.add_parser("report", help="response times per severity and type, action items, recurrences")
    report.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: the first incident)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="day after the last one, exclusive (default: now)")
    report.add_argument("--format", choices=("md", "csv"), default="md", help="Markdown (default) or CSV")
    report.add_argument("-o", "--output", help="file to write (default: standard output)")
    demo = commands.add_parser("demo", help="play a whole incident against the built-in fake Slack")
    demo.add_argument("--out", default=None, help="folder for the demo's database and post-mortem")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logs.configure(logs.log_options(os.environ, default_level=logging.INFO if args.command == "serve"
                                        else logging.WARNING))
        return _run(args)
    except ConfigError as exc:
        print(f"irbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from irbot.demo import run_demo
        return asyncio.run(run_demo(args.out))
    settings = load_settings()
    if args.command == "migrate":
        return _migrate(settings)
    if args.command in ("postmortem", "verify", "export", "report"):
        return asyncio.run(_offline(args, settings))
    if args.command == "serve":
        socket_mode = args.socket_mode or bool(settings.slack_app_token)
        settings.require_serve(socket_mode=socket_mode)
        return asyncio.run(_serve(settings, socket_mode=socket_mode))
    raise AssertionError(args.command)


def _migrate(settings: Settings) -> int:
    from irbot.store.migrate import upgrade
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # a database that cannot be reached is an operator problem: one line
        raise ConfigError(f"cannot migrate {_redacted(settings.database_url)}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    print("irbot: database is up to date")
    return 0


async def _offline(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from irbot import offline
    try:
        if args.command == "verify":
            return await offline.verify(settings, args.incident)
        if args.command == "export":
            return await offline.export(settings, args.incident, args.output)
        if args.command == "report":
            return await offline.report(settings, args.since, args.until, args.format, args.output)
        return await offline.write_postmortem(settings, args.incident, args.output)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read {_redacted(settings.database_url)}: "
                          f"{str(exc.orig if getattr(exc, 'orig', None) else exc).splitlines()[0]}") from None


def _redacted(url: str) -> str:
    from irbot.store.db import sync_url
    return sync_url(url).render_as_string(hide_password=True)


async def _serve(settings: Settings, *, socket_mode: bool = False) -> int:
    from irbot.app import create_app
    irbot = create_app(settings)
    # A port taken or a database irbot cannot use: a ConfigError at once, nothing left running.
    await irbot.start(socket_mode=socket_mode, wait=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _until_stopped(irbot, stop)
    finally:
        await irbot.stop()
    return 0


async def _until_stopped(irbot: Irbot, stop: asyncio.Event) -> None:
    """Serve until SIGTERM or SIGINT, while start-up reaches Slack in the background; a start-up
    that cannot succeed (a token Slack refuses) ends it with its ConfigError."""
    stopping = asyncio.ensure_future(stop.wait())
    starting = asyncio.ensure_future(irbot.started())
    try:
        await asyncio.wait({stopping, starting}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stopping
    finally:
        for waiting in (stopping, starting):
            waiting.cancel()
        await asyncio.gather(stopping, starting, return_exceptions=True)


if __name__ == "__main__":
    sys.exit(main())
