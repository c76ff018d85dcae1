#!/usr/bin/env python
"""Ack latency bench: bursts of 1,000 signed Slack requests against a real ``irbot serve`` process.

    .venv/bin/python bench/ack.py                       # SQLite file, then PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/ack.py --postgres-url ''     # SQLite only

What it measures, in one run (figures, never assertions):

* ack latency as Slack sees it: for every request, the time from sending the signed POST to
  ``/slack/events`` to having read irbot's whole answer (p50/p95/p99/max, ms), per kind and overall,
  and requests per second over each burst (first request sent → last answer read);
* the declare critical path: from posting the declare form's ``view_submission`` to the incident
  card's ``chat.postMessage`` being answered by Slack: the wall time and the Web API calls Slack
  received in between (each one costs a Slack round trip, 50 ms here);
* CPU while the burst ran: irbot's process, this process (load generator + fake Slack), and the
  whole machine (the remainder is mostly PostgreSQL).

How: this process runs the fake Slack (``FakeSlack``) with every Web API call answered after
``--latency`` seconds (50 ms), and starts ``python -m irbot serve`` as a child process (through
``tests.rigs.processes.IrbotProcess``) on a fresh database: a SQLite file in a temporary folder,
then a new database on the PostgreSQL server that is dropped afterwards. The load generator does
not share irbot's event loop, but it does share the machine's cores.

For each concurrency (1, 25, then 100) the bench declares a fresh incident (so every burst starts
from an incident with the same history), waits until irbot's background work is quiet, sends a
warm-up of 100 requests (not measured), waits (at most ``--wait-quiet`` seconds) for a quiet second
on the machine, and then sends the burst: ``--requests`` requests (1,000; ``--probe``, 200, for the
sequential probe at concurrency 1, which shows the service time without queueing) in a fixed
shuffled mix, built in Slack's exact shapes by the signed client and signed just before sending,
sent by ``concurrency`` workers over one aiohttp connection pool (``limit=concurrency``):

* 40 % Events API ``message`` events in the incident channel (distinct ``event_id`` and ``ts``;
  irbot stores each one before it acks);
* 10 % each ``/incident roles``, ``/incident timeline`` (ephemeral answers in the ack) and
  ``/incident note …`` (a database write before the ack);
* 30 % ``block_actions`` clicks on the card's "Take Technical Lead" button (distinct
  ``trigger_id``; irbot acks, then works in the background).

After the burst it waits for the background work to finish and checks that every message and note
was stored. The section of docs/benchmarks.md between this bench's markers is rewritten unless
``--no-docs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from _common import (
    Machine, add_docs_arguments, command_line, fresh_postgres_database, load_average, machine, publish_results,
)

SECTION = "## Ack latency (bench/ack.py)"
BEGIN = "<!-- bench/ack.py results: begin (rewritten by the bench) -->"
END = "<!-- bench/ack.py results: end -->"
SIGNING_SECRET = "irbot-bench-signing-secret"
BOT_TOKEN = "xoxb-irbot-bench-token"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
KINDS = ("message event", "/incident roles", "/incident timeline", "/incident note", "click Take Technical Lead")
MIX = {"message event": 0.4, "/incident roles": 0.1, "/incident timeline": 0.1, "/incident note": 0.1,
       "click Take Technical Lead": 0.3}
WARMUP = 100


# ---------------------------------------------------------------------------------------------
# The fake Slack, with a time on every Web API call
# ---------------------------------------------------------------------------------------------

def make_fake() -> Any:
    from irbot.fakeslack.fake_slack import FakeSlack

    class TimedFakeSlack(FakeSlack):
        """Records when each Web API call was answered (after the fake's latency)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.call_times: list[float] = []

        def record(self, method: str, args: Any, body: Any, status: int, headers: Any = None) -> Any:
            self.call_times.append(time.perf_counter())
            return super().record(method, args, body, status, headers)

    return TimedFakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)


def make_capture(fake: Any) -> Any:
    """A SlackClient that builds each request in Slack's shape and keeps it instead of sending it."""
    from irbot.fakeslack.signed_client import Response, SlackClient

    class Capture(SlackClient):
        def __init__(self) -> None:
            super().__init__(fake, app_url="http://unused", signing_secret=SIGNING_SECRET)
            self.captured: list[tuple[bytes, str]] = []

        async def post_raw(self, body: bytes, headers: dict[str, str] | None = None, sign: bool = True,
                           timestamp: int | None = None, content_type: str = "application/json") -> Response:
            self.captured.append((body, content_type))
            return Response(200, "", 0.0)

        async def take(self, coro: Any) -> tuple[bytes, str]:
            await coro
            return self.captured.pop()

    return Capture()


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every process named postgres (the server and all its backends, whoever uses them)."""
    seconds = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                head, _, rest = stat.read().rpartition(")")
            if head.split("(", 1)[1] != "postgres":
                continue
            fields = rest.split()
            seconds[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return seconds


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU used since ``before`` by postgres processes alive now (those that ended meanwhile are missed)."""
    return sum(now - before.get(pid, 0.0) for pid, now in postgres_cpu().items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def stored_counts(database_url: str, channel_id: str) -> dict[str, int]:
    """Timeline events of the incident in ``channel_id``, by kind."""
    from sqlalchemy import create_engine, text
    from irbot.store.db import sync_url
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT e.kind, COUNT(*) FROM timeline_event e JOIN incident i ON i.id = e.incident_id "
                "WHERE i.channel_id = :channel GROUP BY e.kind"), {"channel": channel_id}).all()
    finally:
        engine.dispose()
    return {kind: int(n) for kind, n in rows}


async def wait_for_quiet(limit: float, threshold: float = 0.3) -> float | None:
    """Wait (at most ``limit`` s) for a second in which the machine is busy less than ``threshold``
    of one core; returns that second's busy share, or None if it never came (the bench goes on)."""
    deadline = time.perf_counter() + limit
    last = None
    while True:
        busy, _ = machine_busy()
        await asyncio.sleep(1.0)
        last = machine_busy()[0] - busy
        if last < threshold:
            return last
        if time.perf_counter() > deadline:
            return None


async def settle(fake: Any, quiet: float = 1.0, limit: float = 60.0) -> float:
    """Wait until the fake has received no Web API call for ``quiet`` seconds; returns the wait."""
    started = time.perf_counter()
    seen, since = len(fake.calls), time.perf_counter()
    while time.perf_counter() - started < limit:
        await asyncio.sleep(0.1)
        await fake.events_delivered()
        if len(fake.calls) != seen:
            seen, since = len(fake.calls), time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            break
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# Declare: the critical path
# ---------------------------------------------------------------------------------------------

async def declare(fake: Any, events_url: str, title: str) -> dict[str, Any]:
    """``/incident declare`` by alice, submit the form; time submission → card posted."""
    from irbot.fakeslack.signed_client import SlackClient
    client = SlackClient(fake, app_url=events_url, signing_secret=SIGNING_SECRET)
    views_before = {v["id"] for v in fake.open_views("alice")}
    response = await client.command("alice", "/incident", f"declare {title}", channel="general")
    assert response.status == 200, response.body
    deadline = time.perf_counter() + 10
    while True:
        fresh = [v for v in fake.open_views("alice") if v["id"] not in views_before]
        if fresh:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError("the declare form did not open")
        await asyncio.sleep(0.01)
    channels_before = set(fake.channels)
    first_call = len(fake.calls)
    submitted = time.perf_counter()
    answer = await client.submit_view("alice", fresh[-1]["id"], {})
    acked = time.perf_counter()
    assert answer.status == 200, answer.body
    deadline = time.perf_counter() + 10
    card_index = None
    while card_index is None:
        new = [c for c in fake.channels if c not in channels_before]
        for i in range(first_call, len(fake.calls)):
            method, args, body, _status = fake.calls[i]
            if method == "chat.postMessage" and new and args.get("channel") == new[0] and (body or {}).get("ok"):
                card_index = i
                break
        else:
            if time.perf_counter() > deadline:
                raise RuntimeError("no incident card was posted")
            await asyncio.sleep(0.005)
    card_at = fake.call_times[card_index]
    between = [(fake.calls[i][0], (fake.call_times[i] - submitted) * 1000) for i in range(first_call, card_index + 1)]
    await settle(fake, quiet=0.5)
    channel = new[0]
    card = next(m for m in fake.messages(channel) if m.get("bot_id") and m.get("blocks")
                and "Take Technical Lead" in json.dumps(m["blocks"]))
    after = [fake.calls[i][0] for i in range(card_index + 1, len(fake.calls))]
    return {"channel": channel, "card_ts": card["ts"], "ack_ms": (acked - submitted) * 1000,
            "card_ms": (card_at - submitted) * 1000, "calls_to_card": between, "calls_after_card": after}


# ---------------------------------------------------------------------------------------------
# Bursts
# ---------------------------------------------------------------------------------------------

async def build_requests(fake: Any, channel: str, card_ts: str, n: int, rng: random.Random,
                         tag: str) -> list[tuple[str, bytes, str]]:
    """n requests (kind, body, content type) in the mix, shuffled."""
    capture = make_capture(fake)
    counts = {kind: round(n * share) for kind, share in MIX.items()}
    counts["message event"] += n - sum(counts.values())
    kinds = [kind for kind, c in counts.items() for _ in range(c)]
    rng.shuffle(kinds)
    out = []
    for i, kind in enumerate(kinds):
        who = PEOPLE[i % len(PEOPLE)]
        if kind == "message event":
            ts = fake.next_ts()
            event = {"type": "message", "channel": channel, "user": fake.user(who).id, "channel_type": "channel",
                     "text": f"{tag} message {i}: checking the dashboards again", "ts": ts, "event_ts": ts,
                     "client_msg_id": str(uuid.uuid4()), "team": fake.team_id}
            body, ctype = await capture.take(capture.event(event, event_id=f"Ev{tag}{i:06d}"))
        elif kind == "click Take Technical Lead":
            body, ctype = await capture.take(capture.click(who, channel, card_ts, "Take Technical Lead"))
        else:
            verb = kind.split()[1]
            text = f"note {tag} note {i}: error rate back under 1%" if verb == "note" else verb
            body, ctype = await capture.take(capture.command(who, "/incident", text, channel=channel))
        out.append((kind, body, ctype))
    return out


def sign_all(requests: list[tuple[str, bytes, str]]) -> list[tuple[str, bytes, dict[str, str]]]:
    from irbot.fakeslack.fake.events import signed_headers
    return [(kind, body, signed_headers(SIGNING_SECRET, body, ctype)) for kind, body, ctype in requests]


async def send(session: aiohttp.ClientSession, url: str, requests: list[tuple[str, bytes, dict[str, str]]],
               concurrency: int) -> tuple[list[tuple[str, float, int]], float]:
    """Send with ``concurrency`` workers; returns ([(kind, seconds, status)], wall seconds)."""
    results: list[tuple[str, float, int]] = []
    queue = iter(requests)

    async def worker() -> None:
        for kind, body, headers in queue:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            results.append((kind, time.perf_counter() - started, status))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - started


async def run_burst(fake: Any, bot: Any, database_url: str, concurrency: int, args: argparse.Namespace,
                    label: str) -> dict[str, Any]:
    rng = random.Random(f"{args.seed}-{concurrency}")
    incident = await declare(fake, bot.events_url, f"Bench {label} c{concurrency}")
    channel = incident["channel"]
    tag = f"{label[:2]}{concurrency}"
    warmup = await build_requests(fake, channel, incident["card_ts"], WARMUP, rng, f"w{tag}")
    size = args.requests if concurrency > 1 else min(args.requests, args.probe)
    burst = await build_requests(fake, channel, incident["card_ts"], size, rng, f"b{tag}")
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await send(session, bot.events_url, sign_all(warmup), concurrency)
        await settle(fake, quiet=0.5)
        signed = sign_all(burst)
        calls_before = len(fake.calls)
        quiet = await wait_for_quiet(args.wait_quiet)
        load = load_average()
        cpu_start = proc_cpu_seconds(bot.pid)
        cpu_bot, cpu_self, cpu_pg = cpu_start, self_cpu_seconds(), postgres_cpu()
        busy, total = machine_busy()
        results, wall = await send(session, bot.events_url, signed, concurrency)
        cpu_bot = proc_cpu_seconds(bot.pid) - cpu_bot
        cpu_self = self_cpu_seconds() - cpu_self
        cpu_pg = postgres_cpu_since(cpu_pg)
        busy2, total2 = machine_busy()
        calls_during = len(fake.calls) - calls_before
    settle_s = await settle(fake)
    cpu_settled = proc_cpu_seconds(bot.pid) - cpu_start  # the burst plus the background work that outlasted it
    stored = stored_counts(database_url, channel)
    sent = defaultdict(int)
    for kind, _, _ in warmup + burst:
        sent[kind] += 1
    statuses = defaultdict(int)
    for _, _, status in results:
        statuses[status] += 1
    return {
        "concurrency": concurrency, "declare": incident, "results": results, "wall_s": wall,
        "cpu": {"irbot": cpu_bot / wall, "bench": cpu_self / wall, "postgres": cpu_pg / wall,
                "machine": (busy2 - busy) / (total2 - total) * (os.cpu_count() or 1)},
        "cpu_s": {"irbot": cpu_bot, "irbot_settled": cpu_settled},
        "before": {"quiet": quiet, "load1": load},
        "statuses": dict(statuses), "slack_calls_during": calls_during, "settle_s": settle_s,
        "stored": {"message": stored.get("message", 0), "note": stored.get("note", 0)},
        "sent": {"message": sent["message event"], "note": sent["/incident note"]},
    }


async def run_backend(fake: Any, label: str, database_url: str, args: argparse.Namespace,
                      log_dir: Path) -> dict[str, Any]:
    from tests.rigs.processes import IrbotProcess, irbot_env
    env = irbot_env(api_url=fake.api_url, database_url=database_url, bot_token=BOT_TOKEN,
                    signing_secret=SIGNING_SECRET)
    bot = IrbotProcess(env=env, log_dir=log_dir, name=f"irbot-{label}")
    await bot.start()
    fake.app_url = bot.events_url
    try:
        await settle(fake, quiet=0.5)
        bursts = []
        for concurrency in args.concurrency:
            if args.pause_for_profiler:
                print(f"irbot pid {bot.pid}: burst at concurrency {concurrency} in {args.pause_for_profiler:g} s",
                      file=sys.stderr, flush=True)
                await asyncio.sleep(args.pause_for_profiler)
            burst = await run_burst(fake, bot, database_url, concurrency, args, label)
            print(summary_line(label, burst), file=sys.stderr, flush=True)
            bursts.append(burst)
        return {"bursts": bursts, "errors_in_log": [line for line in bot.log_text().splitlines()
                                                     if " ERROR " in line or "Traceback" in line][:10]}
    finally:
        fake.app_url = None
        bot.terminate()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def ms(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def stats(latencies: list[float]) -> str:
    values = [v * 1000 for v in latencies]
    return " | ".join(ms(x) for x in (percentile(values, 50), percentile(values, 95), percentile(values, 99),
                                      max(values, default=float("nan"))))


def summary_line(label: str, burst: dict[str, Any]) -> str:
    lat = [r[1] * 1000 for r in burst["results"]]
    return (f"{label} c={burst['concurrency']}: p50 {ms(percentile(lat, 50))} ms, p99 {ms(percentile(lat, 99))} ms, "
            f"max {ms(max(lat))} ms, {len(lat) / burst['wall_s']:.0f} req/s, statuses {burst['statuses']}, "
            f"irbot CPU {burst['cpu']['irbot'] * 100:.0f} %, {burst['cpu_s']['irbot'] / len(lat) * 1000:.2f} ms "
            f"per request ({burst['cpu_s']['irbot_settled'] / len(lat) * 1000:.2f} ms through the settle), "
            f"load before {burst['before']['load1']:.2f}, declare card {burst['declare']['card_ms']:.0f} ms "
            f"via {[m for m, _ in burst['declare']['calls_to_card']]}")


def render(args: argparse.Namespace, facts: Machine, backends: list[tuple[str, str, dict[str, Any]]],
           command: str) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {facts.summary()}; SQLite {sqlite3.sqlite_version} (file, WAL) and the local PostgreSQL. "
        "One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        f"irbot runs as an `irbot serve` child process; this process runs the fake Slack (every Web API "
        f"call answered after {args.latency * 1000:.0f} ms) and the load generator. **Both share the "
        f"machine's {facts.cores} cores** (with PostgreSQL when it is the database), so the figures are "
        "pessimistic for irbot on a machine of its own. Each burst: a fresh incident, 100 warm-up requests "
        f"(not measured), then {args.requests:,} requests ({args.probe} for the sequential probe at concurrency 1, "
        "which shows the service time without queueing) in a fixed shuffled mix ("
        + ", ".join(f"{share:.0%} {kind}" for kind, share in MIX.items()) +
        ") sent by N workers over one aiohttp pool of N connections. Latency is the round trip of one "
        "request (signed POST sent → whole answer read), the ack as Slack sees it; req/s is the burst's "
        "requests over its wall time.",
        "",
        "| Database | Concurrency | Kind | Requests | p50 ms | p95 ms | p99 ms | max ms | req/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, _backend, result in backends:
        for burst in result["bursts"]:
            by_kind: dict[str, list[float]] = defaultdict(list)
            for kind, seconds, _ in burst["results"]:
                by_kind[kind].append(seconds)
            allv = [r[1] for r in burst["results"]]
            lines.append(f"| {label} | {burst['concurrency']} | **all** | {len(allv):,} | {stats(allv)} | "
                         f"**{len(allv) / burst['wall_s']:.0f}** |")
            for kind in KINDS:
                lines.append(f"| {label} | {burst['concurrency']} | {kind} | {len(by_kind[kind]):,} | "
                             f"{stats(by_kind[kind])} | |")
    lines += ["", "CPU during each burst in % of one core: irbot's process; this process (load generator and "
              "fake Slack); every `postgres` process; and the whole machine, whose remainder is other work on the "
              "machine (the load average before the burst says how busy it was).", "",
              "| Database | Concurrency | Burst wall time | Non-200 answers | CPU: irbot / bench / postgres / "
              f"machine (of {facts.cores * 100} %) | Load average before | "
              "Slack calls during / settle after | Stored messages, notes (sent) |",
              "|---|---|---|---|---|---|---|---|"]
    for label, _backend, result in backends:
        for burst in result["bursts"]:
            bad = {k: v for k, v in burst["statuses"].items() if k != 200}
            cpu = burst["cpu"]
            lines.append(
                f"| {label} | {burst['concurrency']} | {burst['wall_s']:.2f} s | {bad or 'none'} | "
                f"{cpu['irbot'] * 100:.0f} / {cpu['bench'] * 100:.0f} / {cpu['postgres'] * 100:.0f} / "
                f"{cpu['machine'] * 100:.0f} | {burst['before']['load1']:.1f} | "
                f"{burst['slack_calls_during']} / {burst['settle_s']:.1f} s | "
                f"{burst['stored']['message']:,} ({burst['sent']['message']:,}), "
                f"{burst['stored']['note']:,} ({burst['sent']['note']:,}) |")
    lines += ["", f"Declare critical path with {args.latency * 1000:.0f} ms Slack latency (one declare before "
              "each burst): `view_submission` sent → incident card's `chat.postMessage` answered by Slack.", "",
              "| Database | Declare | Submission ack | Submission → card posted | Web API calls Slack answered "
              "in between (ms after the submission was sent) |", "|---|---|---|---|---|"]
    for label, _backend, result in backends:
        for burst in result["bursts"]:
            d = burst["declare"]
            calls = ", ".join(f"{method} +{at:.0f} ms" for method, at in d["calls_to_card"])
            lines.append(f"| {label} | before c={burst['concurrency']} | {d['ack_ms']:.0f} ms | {d['card_ms']:.0f} ms | "
                         f"{calls} |")
    after = backends[0][2]["bursts"][0]["declare"]["calls_after_card"] if backends else []
    if after:
        lines += ["", "After the card (not on the critical path): " + ", ".join(after) + "."]
    problems = []
    for label, _backend, result in backends:
        for burst in result["bursts"]:
            if burst["stored"]["message"] != burst["sent"]["message"] or burst["stored"]["note"] != burst["sent"]["note"]:
                problems.append(f"{label} c={burst['concurrency']}: stored {burst['stored']} of {burst['sent']}")
        if result["errors_in_log"]:
            problems.append(f"{label}: irbot logged errors: " + " / ".join(result["errors_in_log"][:3]))
    if problems:
        lines += ["", "Warnings: " + "; ".join(problems) + "."]
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    fake = make_fake()
    fake.latency = args.latency
    await fake.start()
    backends: list[tuple[str, str, dict[str, Any]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="irbot-ack-") as folder:
            if not args.no_sqlite:
                url = f"sqlite:///{Path(folder) / 'irbot.db'}"
                backends.append(("SQLite", f"SQLite {sqlite3.sqlite_version}",
                                 await run_backend(fake, "SQLite", url, args, Path(folder))))
            if args.postgres_url:
                fresh = fresh_postgres_database(args.postgres_url)
                try:
                    backends.append(("PostgreSQL", f"PostgreSQL {fresh.server_version}",
                                     await run_backend(fake, "PostgreSQL", fresh.url, args, Path(folder))))
                finally:
                    fresh.drop()
    finally:
        await fake.stop()
    block = render(args, machine(), backends, command)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per burst (default 1000)")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 25, 100],
                        help="comma-separated concurrencies (default 1,25,100; 1 is a short sequential probe)")
    parser.add_argument("--probe", type=int, default=200,
                        help="requests of the sequential (concurrency 1) probe (default 200)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG,
                        help=f"PostgreSQL server for a fresh database ('' to skip; default {DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--seed", default="irbot", help="seed of the request mix")
    parser.add_argument("--wait-quiet", type=float, default=10.0, metavar="SECONDS",
                        help="before each burst, wait up to this long for a quiet second on the machine (default 10)")
    parser.add_argument("--pause-for-profiler", type=float, default=0.0, metavar="SECONDS",
                        help="print irbot's pid and wait before each burst (to attach py-spy)")
    add_docs_arguments(parser)
    args = parser.parse_args()
    command = command_line("ack.py", sys.argv[1:])
    return asyncio.run(orchestrate(args, command))


if __name__ == "__main__":
    sys.exit(main())
