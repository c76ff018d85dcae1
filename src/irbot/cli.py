"""The ``irbot`` command line. Configuration problems are one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from irbot import logs
from irbot.perf import MemoryGiveBack, freeze_start_up_objects
from irbot.tasks import Periodic
from irbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from irbot.app import Irbot

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irbot", description="Incident response in Slack.")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the bot (HTTP mode; Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--socket-mode", action="store_true", help="connect through Socket Mode")
    migrate = commands.add_parser("migrate", help="bring the database schema up to date (creating it if need be)")
    _database_option(migrate, "to bring up to date")
    commands.add_parser("config", help="show the settings in effect (secrets masked) and check them",
                        description="Print each setting, its value (secrets masked) and where it came from "
                                    "(environment, settings file or default), then check that `irbot serve` "
                                    "could start with them. Needs neither Slack nor the database.")
    postmortem = commands.add_parser("postmortem", help="write an incident's post-mortem from the database")
    postmortem.add_argument("incident", help="the incident, e.g. INC-42")
    postmortem.add_argument("-o", "--output", help="file to write (default: standard output)")
    _database_option(postmortem, "to read")
    verify = commands.add_parser("verify", help="check an incident's evidence chain")
    verify.add_argument("incident", help="the incident, e.g. INC-42")
    _database_option(verify, "to read")
    export = commands.add_parser("export", help="write an incident's evidence chain as JSON lines")
    export.add_argument("incident", help="the incident, e.g. INC-42")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    _database_option(export, "to read")
    report = commands.add_parser("report", help="response times per severity and type, action items, recurrences")
    report.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: the first incident)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="day after the last one, exclusive (default: now)")
    report.add_argument("--format", choices=("md", "csv"), default="md", help="Markdown (default) or CSV")
    report.add_argument("-o", "--output", help="file to write (default: standard output)")
    _database_option(report, "to read")
    demo = commands.add_parser("demo", help="play a whole incident against the built-in fake Slack")
    demo.add_argument("--out", default=None, metavar="DIR",
                      help="folder for the demo's database and post-mortem, replaced on each run "
                           "(default: ./irbot-demo)")
    return parser


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked: finding the installed version scans every
    installed package's metadata, which ``irbot serve`` would otherwise do at each start."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show irbot's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"irbot {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("irbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _database_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--database URL``; its help says which database that is right now."""
    parser.add_argument("--database", metavar="URL",
                        help=f"the database {purpose} (default: DATABASE_URL; {_database_now()})".replace("%", "%%"))


def _database_now() -> str:
    from irbot.config import url_without_password
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"it is unset, so {Settings.database_url} in the current folder"
    return f"now {url_without_password(url)}"


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
    if getattr(args, "database", None):
        settings = replace(settings, database_url=args.database)
    if args.command == "config":
        return _config(settings)
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


def _config(settings: Settings) -> int:
    """``irbot config``: the settings in effect, then the checks ``serve`` would fail on (no network)."""
    from irbot.config import settings_in_effect

    shown = settings_in_effect(settings)
    source = os.environ.get("IRBOT_CONFIG")
    print(f"irbot {_version()}; settings file: " + (f"{source} (IRBOT_CONFIG)" if source else
                                                     "none (IRBOT_CONFIG is unset)"))
    width = max(len(s.name) for s in shown) + 2
    for setting in shown:
        print(f"{setting.name:<{width}}{setting.source:<13}{setting.value}")
    socket_mode = bool(settings.slack_app_token)
    settings.require_serve(socket_mode=socket_mode)
    _check_database(settings.database_url)
    print(f"irbot: the settings are fine for `irbot serve` in {'Socket Mode' if socket_mode else 'HTTP mode'}")
    return 0


def _check_database(url: str) -> None:
    """What can be told about ``DATABASE_URL`` without connecting: its form, its folder, its driver."""
    from pathlib import Path

    from sqlalchemy.exc import NoSuchModuleError

    from irbot.store.db import async_url
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        if target.database in (None, "", ":memory:"):
            raise ConfigError("DATABASE_URL: an in-memory SQLite database is lost when irbot stops; "
                              "name a file, e.g. sqlite:///irbot.db")
        folder = Path(target.database).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"DATABASE_URL: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"DATABASE_URL: irbot cannot write in {folder}")
    try:
        target.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise ConfigError(f"DATABASE_URL: irbot knows no database driver {target.drivername!r}") from None
    except ImportError as exc:
        extra = " (pip install 'irbot[postgres]')" if target.get_backend_name() == "postgresql" else ""
        raise ConfigError(f"DATABASE_URL: its driver {exc.name or target.drivername} is not installed{extra}") \
            from None


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
    irbot.migrate_in_child = True
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


# How often a serving process looks whether it has gone quiet (``MemoryGiveBack``): an idle server
# gives back what its last piece of work freed within two looks.
GIVE_BACK_EVERY = 2.0


async def _until_stopped(irbot: Irbot, stop: asyncio.Event) -> None:
    """Serve until SIGTERM or SIGINT, while start-up reaches Slack in the background; a start-up
    that cannot succeed (a token Slack refuses) ends it with its ConfigError."""
    stopping = asyncio.ensure_future(stop.wait())
    starting = asyncio.ensure_future(irbot.started())
    try:
        await asyncio.wait({stopping, starting}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            freeze_start_up_objects()
            giving_back = Periodic("give-back-memory", MemoryGiveBack().run_tick, every=GIVE_BACK_EVERY)
            giving_back.start()
            try:
                await stopping
            finally:
                await giving_back.stop()
    finally:
        for waiting in (stopping, starting):
            waiting.cancel()
        await asyncio.gather(stopping, starting, return_exceptions=True)


if __name__ == "__main__":
    sys.exit(main())
