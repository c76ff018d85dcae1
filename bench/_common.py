"""What every bench needs besides its own measurements: the facts about the machine it ran on, a
fresh database on a PostgreSQL server, and the writer of its results block in docs/benchmarks.md.

A bench imports it as ``from _common import …`` (``bench/`` is first on ``sys.path`` when a bench
runs as ``.venv/bin/python bench/NAME.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import math
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

# The benches drive irbot with the test suite's own rigs (tests/rigs): make the checkout importable.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(1, str(_ROOT))

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_INTRO = ("# Benchmarks\n\n"
              "Figures measured by the scripts in `bench/`, one run each, on the machine named with each\n"
              "result (a small 2-core virtual machine unless said otherwise). They are measurements to\n"
              "compare over time, not guarantees, and never timed assertions in the test suite.\n\n"
              "Run a bench from the repository root with the project's virtual environment, e.g.\n"
              "`.venv/bin/python bench/reminders.py`; each bench's section gives its exact command.\n")


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Machine:
    cores: int  # usable by this process, as `nproc` counts them
    cpu: str  # the model name
    memory: str  # total RAM as `free -h` prints it, e.g. "7.8Gi"
    system: str  # kernel: "Linux 6.1.0-18-amd64"
    python: str

    def summary(self) -> str:
        """One phrase for a results block: cores, CPU, RAM, kernel, Python."""
        return (f"{self.cores} cores (`nproc`), {self.cpu}, {self.memory} RAM (`free -h`); {self.system}; "
                f"Python {self.python}")


def machine() -> Machine:
    return Machine(cores=len(os.sched_getaffinity(0)), cpu=_cpu_model(), memory=_total_memory(),
                   system=f"{platform.system()} {platform.release()}", python=platform.python_version())


def load_average() -> float:
    """The 1-minute load average: how busy the machine was besides the bench."""
    return os.getloadavg()[0]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _total_memory() -> str:
    try:
        output = subprocess.run(["free", "-h"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return next((line.split()[1] for line in output.splitlines() if line.startswith("Mem:")), "?")


# ---------------------------------------------------------------------------------------------
# A fresh PostgreSQL database
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FreshDatabase:
    url: str
    server_version: str  # what `SHOW server_version` says
    drop: Callable[[], None]


def fresh_postgres_database(server_url: str, prefix: str = "irbot_bench") -> FreshDatabase:
    """A new, empty database on the server at ``server_url``; ``drop()`` removes it (forcing out
    connections a crashed run may have left)."""
    if not server_url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("--database-url: only postgresql:// URLs (SQLite is the default)")
    from sqlalchemy import create_engine, text
    server_url = server_url.replace("postgres://", "postgresql://", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return FreshDatabase(url=server_url.rsplit("/", 1)[0] + "/" + name, server_version=version, drop=drop)


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    label: str  # how the results block names it
    drop: Callable[[], None]


def new_bench_database(postgres_url: str | None, folder: Path, *, name: str = "irbot",
                       prefix: str = "irbot_bench") -> BenchDatabase:
    """The database a run measures on: a new database on the PostgreSQL server at ``postgres_url``,
    or, without one, a SQLite file ``name``.db in ``folder``; ``drop()`` removes the former."""
    if not postgres_url:
        return BenchDatabase(f"sqlite:///{folder / f'{name}.db'}", f"SQLite {sqlite3.sqlite_version} (file, WAL)",
                             lambda: None)
    fresh = fresh_postgres_database(postgres_url, prefix=prefix)
    return BenchDatabase(fresh.url, f"PostgreSQL {fresh.server_version} (local, fresh database)", fresh.drop)


@contextlib.contextmanager
def bench_database(postgres_url: str | None, folder: Path, *, name: str = "irbot",
                   prefix: str = "irbot_bench") -> Iterator[BenchDatabase]:
    """``new_bench_database`` for the length of a block, dropped when it ends."""
    database = new_bench_database(postgres_url, folder, name=name, prefix=prefix)
    try:
        yield database
    finally:
        database.drop()


def each_database(sqlite: bool, postgres_url: str | None, folder: Path) -> Iterator[tuple[str, BenchDatabase]]:
    """("SQLite", its file) unless ``sqlite`` is false, then ("PostgreSQL", a fresh database) when
    given a server: each dropped once the run on it is over."""
    if sqlite:
        with bench_database(None, folder) as database:
            yield "SQLite", database
    if postgres_url:
        with bench_database(postgres_url, folder) as database:
            yield "PostgreSQL", database


# ---------------------------------------------------------------------------------------------
# docs/benchmarks.md
# ---------------------------------------------------------------------------------------------

def publish_results(block: str, args: argparse.Namespace, *, section: str, begin: str, end: str,
                    section_intro: str = "", per_backend: bool = False) -> None:
    """Print the results block and, unless ``--no-docs``, write it to ``--docs``. ``per_backend``:
    the markers hold ``{backend}``, one block for SQLite and one for PostgreSQL (``--database-url``)."""
    print()
    print(block)
    if args.no_docs:
        return
    if per_backend:
        backend = "postgresql" if args.database_url else "sqlite"
        begin, end = begin.format(backend=backend), end.format(backend=backend)
    write_results(block, Path(args.docs), section=section, begin=begin, end=end, section_intro=section_intro)
    print(f"\nwrote the results to {args.docs}")


def write_results(block: str, path: Path, *, section: str, begin: str, end: str, section_intro: str = "") -> None:
    """Put ``block`` between the ``begin`` and ``end`` marker lines, replacing what was there. Without
    the markers, the block goes at the end of ``section`` (a heading line, added with
    ``section_intro`` under it if missing). The file is read right before it is written: benches
    running at the same time each touch only their own block."""
    body = f"{begin}\n{block}\n{end}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DOCS_INTRO, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    elif section in text:
        head, rest = text.split(section, 1)
        cut = rest.find("\n## ")
        inside, after = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
        text = head + section + inside.rstrip("\n") + "\n\n" + body + "\n" + after
    else:
        intro = f"{section_intro}\n\n" if section_intro else ""
        text = text.rstrip("\n") + f"\n\n{section}\n\n{intro}{body}\n"
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def add_docs_arguments(parser: argparse.ArgumentParser) -> None:
    """``--docs`` and ``--no-docs``, the same for every bench."""
    parser.add_argument("--docs", default=str(DOCS), help="Markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-docs", action="store_true", help="print the results only")


def command_line(script: str, argv: Sequence[str], *, hidden: Sequence[str] = ()) -> str:
    """The run as its results block shows it (``hidden`` flags left out, so the block reads as the
    command that writes it)."""
    return shlex.join([".venv/bin/python", f"bench/{script}", *(a for a in argv if a not in hidden)])


# ---------------------------------------------------------------------------------------------
# The fake Slack, with the span of every Web API call
# ---------------------------------------------------------------------------------------------

def timed_fake_slack(*, signing_secret: str, bot_token: str, latency: float) -> Any:
    """A ``FakeSlack`` whose every Web API call Slack answers after ``latency`` seconds, and which
    keeps, beside ``calls``, each call's span: ``spans[i] == (arrived, answered)`` in
    ``time.perf_counter()`` seconds (arrived: the request reached the fake; answered: the fake has
    applied the call and sends the answer). ``watchers`` are called with each new call's index
    right after it is applied, in the fake's (this process's) event loop."""
    from aiohttp import web

    from irbot.fakeslack.fake.server import build_app
    from irbot.fakeslack.fake_slack import FakeSlack

    arrived: contextvars.ContextVar[float] = contextvars.ContextVar("arrived")

    @web.middleware
    async def note_arrival(request: web.Request, handler: Any) -> web.StreamResponse:
        arrived.set(time.perf_counter())
        return await handler(request)

    class TimedFakeSlack(FakeSlack):
        def __init__(self) -> None:
            super().__init__(signing_secret=signing_secret, bot_token=bot_token)
            self.latency = latency
            self.spans: list[tuple[float, float]] = []
            self.watchers: list[Callable[[int], None]] = []

        async def start(self) -> "TimedFakeSlack":  # FakeSlack.start, with the arrival middleware
            app = build_app(self)
            app.middlewares.append(note_arrival)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return self

        def record(self, method: str, args: Any, body: Any, status: int, headers: Any = None) -> Any:
            now = time.perf_counter()
            answer = super().record(method, args, body, status, headers)
            self.spans.append((arrived.get(now), now))
            for watch in list(self.watchers):
                watch(len(self.calls) - 1)
            return answer

    return TimedFakeSlack()


def round_trips(spans: Sequence[tuple[float, float]]) -> list[int]:
    """For each call (by its span), the number of the sequential round trip it belongs to, from 1.
    Calls whose spans overlap (directly or through other calls) are one round trip: they were in
    flight together. A call that starts after every earlier call was answered starts the next one."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    numbers = [0] * len(spans)
    trip, reach = 0, float("-inf")
    for i in order:
        start, end = spans[i]
        if start > reach:
            trip += 1
        reach = max(reach, end)
        numbers[i] = trip
    return numbers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(value: float) -> str:
    """Milliseconds as a results table shows them: whole above 100, one decimal below."""
    return "n/a" if value != value else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def aim(met: bool) -> str:
    return "**met**" if met else "**not met**"


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """``--database-url``: a PostgreSQL server to run on (a fresh database); SQLite without it."""
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server URL (a fresh database is created and dropped); default SQLite")


# ---------------------------------------------------------------------------------------------
# Driving irbot the way Slack does
# ---------------------------------------------------------------------------------------------

async def open_declare_form(fake: Any, client: Any, who: str, title: str, timeout: float = 10.0) -> str:
    """``/incident declare TITLE`` by ``who``; the id of the form irbot opens (not submitted)."""
    import asyncio
    before = {v["id"] for v in fake.open_views(who)}
    answer = await client.command(who, "/incident", f"declare {title}", channel="general")
    if answer.status != 200:
        raise RuntimeError(f"/incident declare answered {answer.status}: {answer.body[:200]}")
    deadline = time.perf_counter() + timeout
    while True:
        fresh = [v["id"] for v in fake.open_views(who) if v["id"] not in before]
        if fresh:
            return fresh[-1]
        if time.perf_counter() > deadline:
            raise RuntimeError("the declare form did not open")
        await asyncio.sleep(0.005)


async def quiet_slack(fake: Any, quiet: float = 0.3, limit: float = 30.0) -> None:
    """Wait until irbot has made no Web API call for ``quiet`` seconds (its background work is done)."""
    import asyncio
    started = since = time.perf_counter()
    seen = len(fake.calls)
    while time.perf_counter() - started < limit:
        await asyncio.sleep(0.02)
        if len(fake.calls) != seen:
            seen, since = len(fake.calls), time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            return


def by_round_trip(calls: Sequence[tuple[int, str]]) -> str:
    """``[(round trip, method), …]`` as one line: "1. a; 2. b ∥ c" (∥: in flight together)."""
    trips: dict[int, list[str]] = {}
    for trip, method in calls:
        trips.setdefault(trip, []).append(method)
    return "; ".join(f"{trip}. " + " ∥ ".join(methods) for trip, methods in sorted(trips.items())) or "none"
