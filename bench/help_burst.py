#!/usr/bin/env python
"""Help burst bench: 100 ``/incident help`` commands at once, acked over HTTP and over Socket Mode.

    .venv/bin/python bench/help_burst.py                      # SQLite file, then PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/help_burst.py --postgres-url ''    # SQLite only

What it measures, in one run (figures, never assertions), for each database (a SQLite file; a fresh
database on the PostgreSQL server, dropped afterwards) and each way Slack reaches irbot (HTTP
requests to ``/slack/events``; Socket Mode envelopes over the WebSocket irbot opens to Slack):

* **a burst**: ``--size`` (100) ``/incident help`` commands sent at once, ``--bursts`` times (a
  pause of 1 s between bursts): the ack latency of each command, p50/p99 over all bursts and the
  worst burst's p99. Aim: p99 ≤ 100 ms.
* **one command at a time**: ``--single`` (200) commands sent one after the other: p50/p99.
  Aim: p50 ≤ 5 ms.

Ack latency as Slack sees it: over HTTP, from writing the signed POST to its connection to having
read irbot's whole answer (the ephemeral help text is in the answer); over Socket Mode, from the
fake Slack sending the envelope to receiving irbot's ack carrying the answer (the fake's own
``Ack.elapsed``). Building and signing the commands happens before, and is not counted.

How: this process runs the fake Slack (Web API calls answered after ``--latency`` s, 50 ms; help
makes none before its ack) and sends the commands; ``python -m irbot serve`` runs as a child
process (``IrbotProcess``), in Socket Mode when given ``SLACK_APP_TOKEN``. Both processes share the
machine's cores (and PostgreSQL when it is the database). Each command is built by the signed client
in Slack's exact shape with its own ``trigger_id``; HTTP commands go over keep-alive connections
(``HttpConnections``) opened by a warm-up burst that is not measured (as are 50 sequential warm-up
commands).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    add_docs_arguments, aim, command_line, each_database, load_average, machine, ms, percentile,
    publish_results, quiet_slack, timed_fake_slack,
)
from ack import BOT_TOKEN, DEFAULT_PG, SIGNING_SECRET, make_capture, proc_cpu_seconds, self_cpu_seconds

SECTION = "## A burst of /incident help (bench/help_burst.py)"
SECTION_INTRO = ("Commands that store nothing are answered in their ack. Aims: a burst of 100 `/incident help` "
                 "acked with p99 ≤ 100 ms over HTTP and Socket Mode, on SQLite and PostgreSQL; one command at "
                 "a time p50 ≤ 5 ms.")
BEGIN = "<!-- bench/help_burst.py results: begin (rewritten by the bench) -->"
END = "<!-- bench/help_burst.py results: end -->"
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
AIM_BURST_P99_MS = 100.0
AIM_SINGLE_P50_MS = 5.0
WARMUP_SINGLE = 50


@dataclass
class Run:
    database: str
    mode: str  # "HTTP" or "Socket Mode"
    bursts: list[list[float]] = field(default_factory=list)  # seconds per command, per burst
    single: list[float] = field(default_factory=list)
    failed: int = 0  # commands not answered 200 with the help text
    cpu_per_command: float = 0.0  # irbot's CPU seconds per burst command
    bench_cpu_per_command: float = 0.0  # this process's (fake Slack and sender) CPU seconds per burst command
    load: list[float] = field(default_factory=list)  # the 1-minute load average before each burst


class HttpConnections:
    """Keep-alive HTTP/1.1 connections to irbot, written to directly, so that a command's time starts
    when its bytes are handed to the socket, as Slack's would. aiohttp's client (on Python 3.11)
    writes a request's body in a task of its own: in a burst, every body waited until all the
    burst's requests had been prepared, and up to 30 ms was counted before a request had left."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, float]:
        """Status, body and seconds from writing the request to having read the whole answer."""
        reader, writer = self._idle.pop() if self._idle else await self._open()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   f"Content-Length: {len(body)}\r\n{head}\r\n").encode() + body
        started = time.perf_counter()
        writer.write(request)
        status, length = _status_and_length(await reader.readuntil(b"\r\n\r\n"))
        answer = await reader.readexactly(length)
        elapsed = time.perf_counter() - started
        self._idle.append((reader, writer))
        return status, answer, elapsed

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._all.append(writer)
        return reader, writer

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in self._all), return_exceptions=True)


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")),
                  None)
    if length is None:
        raise RuntimeError(f"irbot answered without Content-Length: {lines[0]}")
    return int(lines[0].split()[1]), length


class Sender:
    """Builds ``/incident help`` commands and sends them the way the app is set up to receive them."""

    def __init__(self, fake: Any, events_url: str, socket_mode: bool) -> None:
        self.fake, self.socket_mode = fake, socket_mode
        self.capture = make_capture(fake)
        self.http = HttpConnections(events_url)
        self.failed = 0

    async def build(self, n: int) -> list[tuple[bytes, str]]:
        return [await self.capture.take(self.capture.command(PEOPLE[i % len(PEOPLE)], "/incident", "help"))
                for i in range(n)]

    async def send(self, body: bytes, content_type: str) -> float:
        if self.socket_mode:
            from irbot.fakeslack.signed_client import envelope_of
            kind, payload = envelope_of(body, content_type)
            ack = await self.fake.socket.deliver(kind, payload, timeout=10)
            if ack is None or not (ack.payload or {}).get("text"):
                self.failed += 1
                return float("nan") if ack is None else ack.elapsed
            return ack.elapsed
        from irbot.fakeslack.fake.events import signed_headers
        status, text, elapsed = await self.http.post(body, signed_headers(SIGNING_SECRET, body, content_type))
        if status != 200 or b"declare" not in text:
            self.failed += 1
        return elapsed

    async def burst(self, n: int) -> list[float]:
        built = await self.build(n)
        return list(await asyncio.gather(*(self.send(body, ctype) for body, ctype in built)))

    async def one_by_one(self, n: int) -> list[float]:
        return [await self.send(body, ctype) for body, ctype in await self.build(n)]

    async def close(self) -> None:
        await self.http.close()


async def run_one(fake: Any, label: str, database_url: str, socket_mode: bool, args: argparse.Namespace,
                  folder: Path) -> Run:
    from tests.rigs.processes import IrbotProcess, irbot_env
    env = irbot_env(api_url=fake.api_url, database_url=database_url, bot_token=BOT_TOKEN,
                    signing_secret=SIGNING_SECRET)
    if socket_mode:
        del env["SLACK_SIGNING_SECRET"]
        env["SLACK_APP_TOKEN"] = fake.socket_app_token
    fake.socket.enabled = socket_mode
    connections = len(fake.socket.connections)
    mode = "Socket Mode" if socket_mode else "HTTP"
    bot = IrbotProcess(env=env, log_dir=folder, name=f"irbot-help-{label}-{'socket' if socket_mode else 'http'}")
    run = Run(label, mode)
    try:
        await bot.start()
        if socket_mode:
            await fake.socket.wait_connected(30, after=connections)
        else:
            fake.app_url = bot.events_url
        await quiet_slack(fake, 0.5)
        sender = Sender(fake, bot.events_url, socket_mode)
        try:
            await sender.one_by_one(WARMUP_SINGLE)
            await sender.burst(args.size)
            await asyncio.sleep(1.0)
            run.single = await sender.one_by_one(args.single)
            cpu = own = 0.0
            for _ in range(args.bursts):
                await asyncio.sleep(1.0)
                run.load.append(load_average())
                before, own_before = proc_cpu_seconds(bot.pid), self_cpu_seconds()
                run.bursts.append(await sender.burst(args.size))
                own += self_cpu_seconds() - own_before
                await asyncio.sleep(0.2)  # let irbot finish its work after the acks (none is expected)
                cpu += proc_cpu_seconds(bot.pid) - before
            run.cpu_per_command = cpu / (args.bursts * args.size)
            run.bench_cpu_per_command = own / (args.bursts * args.size)
            run.failed = sender.failed
        finally:
            await sender.close()
        errors = [line for line in bot.log_text().splitlines() if " ERROR " in line or "Traceback" in line]
        if errors:
            print(f"{label} {mode}: irbot logged errors:\n  " + "\n  ".join(errors[:5]), file=sys.stderr)
    finally:
        fake.app_url = None
        bot.terminate(wait=False)  # the fake runs on this loop: wait for the exit off the loop
        if bot.proc is not None:
            await asyncio.to_thread(bot.proc.wait, 30)
        fake.socket.enabled = False
    print(summary_line(run), file=sys.stderr, flush=True)
    return run


def summary_line(run: Run) -> str:
    every = [s * 1000 for b in run.bursts for s in b]
    single = [s * 1000 for s in run.single]
    return (f"{run.database} {run.mode}: burst p50 {ms(percentile(every, 50))} ms, p99 {ms(percentile(every, 99))} ms; "
            f"single p50 {ms(percentile(single, 50))} ms; failed {run.failed}")


def render(args: argparse.Namespace, runs: list[Run], databases: list[str], command: str, load: float) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {machine().summary()}; {', '.join(databases)}; load average {load:.1f} before the run. "
        "One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        "irbot runs as an `irbot serve` child process (in Socket Mode with `SLACK_APP_TOKEN`); this process runs "
        "the fake Slack and sends the commands; both share the machine's cores. A burst: "
        f"{args.size} `/incident help` commands sent at once, {args.bursts} bursts 1 s apart; one at a time: "
        f"{args.single} commands in a row. Latency: HTTP, signed POST written → whole answer read; Socket Mode, "
        "envelope sent → ack (with the answer) received.",
        "",
        f"| Database | Mode | Burst p50 ms | Burst p99 ms | Worst burst's p99 ms | Aim p99 ≤ "
        f"{AIM_BURST_P99_MS:.0f} ms | One at a time p50 / p99 ms | Aim p50 ≤ {AIM_SINGLE_P50_MS:.0f} ms | "
        "CPU per burst command: irbot / bench | Load average before the bursts | Failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        every = [s * 1000 for b in run.bursts for s in b]
        worst = max((percentile([s * 1000 for s in b], 99) for b in run.bursts), default=float("nan"))
        single = [s * 1000 for s in run.single]
        p99, p50 = percentile(every, 99), percentile(single, 50)
        lines.append(
            f"| {run.database} | {run.mode} | {ms(percentile(every, 50))} | {ms(p99)} | {ms(worst)} | "
            f"{aim(p99 <= AIM_BURST_P99_MS)} | {ms(p50)} / {ms(percentile(single, 99))} | "
            f"{aim(p50 <= AIM_SINGLE_P50_MS)} | {run.cpu_per_command * 1000:.2f} / "
            f"{run.bench_cpu_per_command * 1000:.2f} ms | "
            f"{min(run.load, default=0):.1f}–{max(run.load, default=0):.1f} | "
            f"{run.failed} |")
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await fake.start()
    runs: list[Run] = []
    databases: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="irbot-help-") as folder:
            for backend, database in each_database(not args.no_sqlite, args.postgres_url, Path(folder)):
                databases.append(database.label)
                for socket_mode in (False, True):
                    runs.append(await run_one(fake, backend, database.url, socket_mode, args, Path(folder)))
    finally:
        await fake.stop()
    block = render(args, runs, databases, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100, help="commands per burst (default 100)")
    parser.add_argument("--bursts", type=int, default=5, help="measured bursts per run (default 5)")
    parser.add_argument("--single", type=int, default=200, help="commands sent one at a time (default 200)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG,
                        help=f"PostgreSQL server for a fresh database ('' to skip; default {DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite runs")
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("help_burst.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
