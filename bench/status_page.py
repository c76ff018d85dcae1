#!/usr/bin/env python
"""Status page bench: ``GET /status`` under 50 concurrent readers, and slash-command acks while 200
clients poll the page.

    .venv/bin/python bench/status_page.py                      # SQLite file, then PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/status_page.py --postgres-url ''    # SQLite only

The database holds ``--incidents`` (50) published incidents with ``--updates`` (2,000) public
updates between them (35 open, 15 resolved within the last 14 days), written straight into the
tables after migrating. irbot runs as an ``irbot serve`` child process with a ``[status_page]``
section of 8 components; this process runs the fake Slack and the clients. Figures, never assertions.

* **readers**: ``--clients`` (50) clients, each sending ``--requests`` (40) ``GET /status`` one after
  the other (plain GETs, the whole page read): p50/p99 per request. Aim: p99 ≤ 20 ms. Also the first
  request after a publication (the version raised in the database, as a publication does), which
  renders the page: the cost of a cache miss.
* **acks while polling**: bursts of ``--burst`` (50) ``/incident help`` commands (``--bursts`` bursts,
  1 s apart), first with nobody polling, then while ``--pollers`` (200) clients each fetch
  ``/status`` every ``--poll-every`` (1 s; half of them conditionally, with the ETag they got, as
  browsers and feed readers do). Aim: the p99 ack while polling within 20 % of the p99 without.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp

from _common import (
    add_docs_arguments, aim, command_line, each_database, load_average, machine, ms, percentile,
    publish_results, quiet_slack, timed_fake_slack,
)
from ack import BOT_TOKEN, DEFAULT_PG, SIGNING_SECRET, proc_cpu_seconds
from help_burst import Sender

SECTION = "## Status page (bench/status_page.py)"
SECTION_INTRO = ("`/status` is rendered once per publication and served from memory. Aims: with 50 published "
                 "incidents and 2,000 public updates, `GET /status` p99 ≤ 20 ms at 50 concurrent clients; while "
                 "200 clients poll the page, a burst of slash commands is acked with a p99 within 20 % of the "
                 "p99 without them.")
BEGIN = "<!-- bench/status_page.py results: begin (rewritten by the bench) -->"
END = "<!-- bench/status_page.py results: end -->"
AIM_PAGE_P99_MS = 20.0
AIM_ACK_RATIO = 1.20
COMPONENTS = [("checkout", "Checkout"), ("payments", "Payments"), ("api", "Public API"), ("search", "Search"),
              ("login", "Login"), ("email", "Email delivery"), ("mobile", "Mobile apps"), ("webhooks", "Webhooks")]
IMPACTS = ("degraded_performance", "partial_outage", "major_outage")


def settings_file(folder: Path) -> Path:
    lines = ['[status_page]', 'title = "Acme status"', 'public_url = "https://status.example.com"']
    for key, name in COMPONENTS:
        lines += ["[[status_page.components]]", f'key = "{key}"', f'name = "{name}"']
    path = folder / "irbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seed(database_url: str, incidents: int, updates: int) -> None:
    """Published incidents and their public updates, written as irbot's own tables hold them."""
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from irbot.store.migrate import upgrade
    from irbot.store.models import Counter, Incident, StatusEntry, StatusPublication
    upgrade(database_url)
    sync_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(sync_url)
    now = datetime.now(timezone.utc)
    resolved = incidents * 3 // 10
    with Session(engine) as session:
        for n in range(1, incidents + 1):
            declared = now - timedelta(hours=3 * (incidents - n) + 2)
            done = n <= resolved
            session.add(Incident(id=n, number=n, title=f"Internal title {n}", severity="SEV-2", type="outage",
                                 status="resolved" if done else "investigating", setup="open",
                                 declared_at=declared, resolved_at=declared + timedelta(hours=1) if done else None))
        session.flush()
        for n in range(1, incidents + 1):
            declared = now - timedelta(hours=3 * (incidents - n) + 2)
            done = n <= resolved
            session.add(StatusPublication(incident_id=n, title=f"Checkout errors for some customers ({n})",
                                          impact=IMPACTS[n % 3], components=[COMPONENTS[n % 8][0], COMPONENTS[(n + 3) % 8][0]],
                                          published_at=declared, resolved_at=declared + timedelta(hours=1) if done else None))
        for i in range(updates):
            n = i % incidents + 1
            at = now - timedelta(hours=3 * (incidents - n) + 2) + timedelta(seconds=i + 1)
            session.add(StatusEntry(incident_id=n, kind="published" if i < incidents else "update", impact=IMPACTS[n % 3],
                                    text=f"Update {i}: we are still working on it. " * 4, at=at))
        session.add(Counter(name="incident", value=incidents))
        session.add(Counter(name="status_page", value=1))
        session.commit()
    engine.dispose()


def raise_version(database_url: str) -> None:
    """What a publication does to the page's version (another replica's, as far as this one knows)."""
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("UPDATE counter SET value = value + 1 WHERE name = 'status_page'"))
    engine.dispose()


@dataclass
class Run:
    database: str
    page: list[float] = field(default_factory=list)  # seconds per GET /status at --clients concurrency
    page_bytes: int = 0  # as sent (gzip)
    cpu_per_page: float = 0.0  # irbot's CPU seconds per GET /status
    miss: float = float("nan")  # the first GET after a publication
    acks_alone: list[float] = field(default_factory=list)
    acks_polled: list[float] = field(default_factory=list)
    polls: int = 0
    not_modified: int = 0
    failed: int = 0
    load: float = 0.0


async def readers(url: str, clients: int, requests: int) -> tuple[list[float], int, int]:
    times: list[float] = []
    failed = 0
    size = 0
    connector = aiohttp.TCPConnector(limit=clients)
    # Bodies are read as sent (gzip), not decompressed: that is the readers' CPU, on their machines.
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        async def client() -> None:
            nonlocal failed, size
            for _ in range(requests):
                started = time.perf_counter()
                async with session.get(url) as response:
                    body = await response.read()
                times.append(time.perf_counter() - started)
                size = len(body)
                failed += response.status != 200
        await asyncio.gather(*(client() for _ in range(clients)))
    return times, size, failed


async def one_get(url: str) -> float:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
        return time.perf_counter() - started


class Pollers:
    def __init__(self, url: str, count: int, every: float) -> None:
        self.url, self.count, self.every = url, count, every
        self.polls = self.not_modified = self.failed = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.count), auto_decompress=False)
        self._tasks = [asyncio.create_task(self._poll(i)) for i in range(self.count)]

    async def _poll(self, index: int) -> None:
        assert self._session is not None
        etag: str | None = None
        await asyncio.sleep(self.every * index / self.count)  # spread over the interval, as real clients are
        while not self._stop.is_set():
            headers = {"If-None-Match": etag} if etag and index % 2 else {}
            try:
                async with self._session.get(self.url, headers=headers) as response:
                    await response.read()
                    etag = response.headers.get("ETag", etag)
                    self.polls += 1
                    self.not_modified += response.status == 304
                    self.failed += response.status not in (200, 304)
            except aiohttp.ClientError:
                self.failed += 1
            try:
                await asyncio.wait_for(self._stop.wait(), self.every)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


async def poll_until_told(url: str, count: int, every: float) -> None:
    """The --poll child: poll until a line arrives on stdin, then print polls, 304s and failures."""
    pollers = Pollers(url, count, every)
    await pollers.start()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await pollers.stop()
    print(pollers.polls, pollers.not_modified, pollers.failed, flush=True)


async def ack_bursts(sender: Sender, size: int, bursts: int) -> list[float]:
    times: list[float] = []
    for _ in range(bursts):
        await asyncio.sleep(1.0)
        times += await sender.burst(size)
    return times


async def run_one(fake: Any, label: str, database_url: str, args: argparse.Namespace, folder: Path) -> Run:
    from tests.rigs.processes import IrbotProcess, irbot_env
    seed(database_url, args.incidents, args.updates)
    env = irbot_env(api_url=fake.api_url, database_url=database_url, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    env["IRBOT_CONFIG"] = str(settings_file(folder))
    fake.socket.enabled = False
    bot = IrbotProcess(env=env, log_dir=folder, name=f"irbot-status-{label}")
    run = Run(label, load=load_average())
    try:
        await bot.start()
        fake.app_url = bot.events_url
        await quiet_slack(fake, 0.5)
        page_url = f"{bot.url}/status"
        await readers(page_url, args.clients, 2)  # warm-up: connections, the first render
        before = proc_cpu_seconds(bot.pid)
        run.page, run.page_bytes, run.failed = await readers(page_url, args.clients, args.requests)
        run.cpu_per_page = (proc_cpu_seconds(bot.pid) - before) / (args.clients * args.requests)
        raise_version(database_url)
        await asyncio.sleep(1.2)  # another replica's publication is seen within a second
        run.miss = await one_get(page_url)

        sender = Sender(fake, bot.events_url, False)
        try:
            await sender.one_by_one(20)
            await sender.burst(args.burst)  # warm-up
            run.acks_alone = await ack_bursts(sender, args.burst, args.bursts)
            # The pollers run in a process of their own: on one event loop with the sender they would
            # delay the measuring itself, not irbot.
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--poll", page_url, "--pollers", str(args.pollers),
                "--poll-every", str(args.poll_every), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            await asyncio.sleep(args.poll_every * 2)
            run.acks_polled = await ack_bursts(sender, args.burst, args.bursts)
            out, _ = await child.communicate(b"stop\n")
            polls, not_modified, failed = (int(v) for v in out.split())
            run.polls, run.not_modified = polls, not_modified
            run.failed += failed + sender.failed
        finally:
            await sender.close()
        errors = [line for line in bot.log_text().splitlines() if " ERROR " in line or "Traceback" in line]
        if errors:
            print(f"{label}: irbot logged errors:\n  " + "\n  ".join(errors[:5]), file=sys.stderr)
    finally:
        fake.app_url = None
        bot.terminate(wait=False)
        if bot.proc is not None:
            await asyncio.to_thread(bot.proc.wait, 30)
    print(summary_line(run), file=sys.stderr, flush=True)
    return run


def _p(values: list[float], q: float) -> float:
    return percentile([v * 1000 for v in values], q)


def summary_line(run: Run) -> str:
    return (f"{run.database}: /status p50 {ms(_p(run.page, 50))} p99 {ms(_p(run.page, 99))} ms; miss "
            f"{ms(run.miss * 1000)} ms; acks p99 alone {ms(_p(run.acks_alone, 99))} / polled "
            f"{ms(_p(run.acks_polled, 99))} ms; failed {run.failed}")


def render(args: argparse.Namespace, runs: list[Run], databases: list[str], command: str, load: float) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {machine().summary()}; {', '.join(databases)}; load average {load:.1f} before the run "
        "(the 2-core machine was shared with other work). One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        f"{args.incidents} published incidents and {args.updates:,} public updates; irbot runs as an `irbot serve` "
        "child process (HTTP mode); this process runs the fake Slack, the readers and the command sender, a third "
        f"process the pollers: all share the machine's cores. Readers: {args.clients} clients × {args.requests} sequential `GET /status` (request "
        "sent → whole page read, gzip, as sent). Acks: "
        f"{args.bursts} bursts of {args.burst} `/incident help` 1 s apart (signed POST written → whole answer read), "
        f"alone, then while {args.pollers} clients each fetch `/status` every {args.poll_every:g} s (half with "
        "`If-None-Match`).",
        "",
        f"| Database | Page size (gzip) | `/status` p50 / p99 ms | irbot CPU per `/status` | Aim p99 ≤ {AIM_PAGE_P99_MS:.0f} ms | First request after a "
        "publication ms | Ack p50 / p99 ms, alone | Ack p50 / p99 ms, while polled | Aim p99 within 20 % | "
        "Polls (304) | Failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        page99 = _p(run.page, 99)
        alone, polled = _p(run.acks_alone, 99), _p(run.acks_polled, 99)
        lines.append(
            f"| {run.database} | {run.page_bytes / 1024:.1f} KiB | {ms(_p(run.page, 50))} / {ms(page99)} | "
            f"{run.cpu_per_page * 1000:.2f} ms | "
            f"{aim(page99 <= AIM_PAGE_P99_MS)} | {ms(run.miss * 1000)} | {ms(_p(run.acks_alone, 50))} / {ms(alone)} | "
            f"{ms(_p(run.acks_polled, 50))} / {ms(polled)} ({polled / alone:.2f}×) | "
            f"{aim(polled <= alone * AIM_ACK_RATIO)} | {run.polls:,} ({run.not_modified:,}) | {run.failed} |")
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await fake.start()
    runs: list[Run] = []
    databases: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="irbot-status-") as folder:
            for backend, database in each_database(not args.no_sqlite, args.postgres_url, Path(folder)):
                databases.append(database.label)
                runs.append(await run_one(fake, backend, database.url, args, Path(folder)))
    finally:
        await fake.stop()
    block = render(args, runs, databases, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--incidents", type=int, default=50, help="published incidents (default 50)")
    parser.add_argument("--updates", type=int, default=2000, help="public updates in all (default 2000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent readers of /status (default 50)")
    parser.add_argument("--requests", type=int, default=40, help="requests per reader (default 40)")
    parser.add_argument("--pollers", type=int, default=200, help="clients polling /status (default 200)")
    parser.add_argument("--poll-every", type=float, default=1.0, help="seconds between a poller's fetches (default 1)")
    parser.add_argument("--burst", type=int, default=50, help="commands per burst (default 50)")
    parser.add_argument("--bursts", type=int, default=5, help="bursts per phase (default 5)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG,
                        help=f"PostgreSQL server for a fresh database ('' to skip; default {DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--poll", metavar="URL", help=argparse.SUPPRESS)  # the pollers' child process
    add_docs_arguments(parser)
    args = parser.parse_args()
    if args.poll:
        asyncio.run(poll_until_told(args.poll, args.pollers, args.poll_every))
        return 0
    return asyncio.run(orchestrate(args, command_line("status_page.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
