#!/usr/bin/env python
"""Paging bench: declare → trigger in PagerDuty, and 100 resolutions at once under throttling.

    .venv/bin/python bench/paging.py                                 # SQLite file
    .venv/bin/python bench/paging.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions):

* **Declare → trigger**: for each of ``--declares`` SEV-1 declares (sequential, after ``--warmup``),
  the time from sending the declare form's ``view_submission`` until the fake PagerDuty has taken
  the trigger (its answer included), with Slack and PagerDuty each ``--latency`` (50 ms) away; p50,
  p99 and max. Aim: p99 ≤ 1 s. And the sequential Slack round trips until the card is posted
  (aim ≤ 2: the page does not delay the card).
* **100 resolved at once**: the incidents declared above are resolved together (the resolve
  service, concurrently); PagerDuty answers 429 to every fifth call from then on. The time until
  every incident's resolve event is taken, and how many resolve events PagerDuty took per key
  (aim: exactly one each, all within 10 s).

How: in one process, with the test harness (``irbot.fakeslack.harness.Harness``) and the fake
PagerDuty (``irbot.fakepagerduty``), both real HTTP servers on 127.0.0.1 that answer after the
latency; the retry delays are irbot's defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    add_database_argument, add_docs_arguments, aim, bench_database, command_line, load_average, machine,
    ms, open_declare_form, percentile, publish_results, round_trips, timed_fake_slack,
)

SECTION = "## Paging: declare to PagerDuty, resolutions under throttling (bench/paging.py)"
SECTION_INTRO = ("How long a SEV-1 declare takes to reach PagerDuty (aim: p99 ≤ 1 s with Slack and PagerDuty "
                 "each 50 ms away, the card still ≤ 2 round trips), and 100 incidents resolved at once with "
                 "PagerDuty answering 429 to every fifth call (aim: 100 resolve events, none doubled, ≤ 10 s).")
BEGIN = "<!-- bench/paging.py results ({backend}): begin (rewritten by the bench) -->"
END = "<!-- bench/paging.py results ({backend}): end -->"
KEY = "b" * 32


@dataclass
class Results:
    to_page: list[float]  # seconds, per counted declare
    card_trips: list[int]
    resolved_in: float
    resolves_per_key: Counter
    incidents: int
    calls: int
    committed_in: float  # until the last of the resolutions had committed (the 100 transactions)


def timed_pagerduty(latency: float) -> Any:
    from irbot.fakepagerduty import FakePagerDuty

    class TimedPagerDuty(FakePagerDuty):
        def __init__(self) -> None:
            super().__init__(latency=latency)
            self.taken: dict[tuple[str, str], float] = {}

        def _apply(self, event: dict[str, Any]) -> None:
            super()._apply(event)
            self.taken.setdefault((event["event_action"], event["dedup_key"]), time.perf_counter())

    return TimedPagerDuty()


async def wait_for(check: Any, limit: float = 30.0) -> None:
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.002)


async def run(args: argparse.Namespace, database_url: str, folder: Path) -> Results:
    from irbot.fakeslack.harness import BOT_TOKEN, SIGNING_SECRET, Harness
    from irbot.services.updates import resolve
    from irbot.store import repo

    pagerduty = timed_pagerduty(args.latency)
    await pagerduty.start()
    pagerduty.add_service("Bench on-call", KEY)
    settings = folder / "irbot.toml"
    settings.write_text(f'[pagerduty]\nevents_url = "{pagerduty.events_url}"\nrouting_key = "{KEY}"\n',
                        encoding="utf-8")
    harness = Harness(database_url, env={"IRBOT_CONFIG": str(settings)})
    harness.fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await harness.fake.start()
    to_page: list[float] = []
    trips: list[int] = []
    try:
        await harness.start_app()
        await harness.settle()
        fake, alice = harness.fake, harness.user("alice")
        for i in range(args.warmup + args.declares):
            view = await open_declare_form(fake, harness.slack, "alice", f"Paging bench {i}")
            first_call = len(fake.calls)
            started = time.perf_counter()
            await harness.slack.submit_view(alice, view, {"Severity": "SEV-1"})
            number = i + 1
            key = ("trigger", f"irbot-INC-{number}")
            await wait_for(lambda: key in pagerduty.taken)
            await harness.settle()
            if i < args.warmup:
                continue
            to_page.append(pagerduty.taken[key] - started)
            calls = fake.calls[first_call:]
            numbers = round_trips(fake.spans[first_call:])
            created = next(c[2]["channel"]["id"] for c in calls if c[0] == "conversations.create" and c[2])
            card = next(n for c, n in zip(calls, numbers) if c[0] == "chat.postMessage" and c[1].get("channel") == created)
            trips.append(card)
            if card > 2 and args.explain:
                print("card after", card, "round trips:", [(c[0], n) for c, n in zip(calls, numbers)][:12])
        deps = harness.irbot.deps
        async with deps.db.reader() as session:
            incidents = [await repo.incident_by_number(n, session=session)
                         for n in range(args.warmup + 1, args.warmup + args.declares + 1)]
        pagerduty.calls = 0
        pagerduty.throttle_every(5)
        started = time.perf_counter()
        await asyncio.gather(*(resolve(incident, "Bench", actor=alice.id, deps=deps) for incident in incidents))
        committed_in = time.perf_counter() - started
        keys = {("resolve", f"irbot-INC-{i.number}") for i in incidents}
        try:
            await wait_for(lambda: keys <= set(pagerduty.taken), limit=60.0)
        except RuntimeError:
            async with deps.db.reader() as session:
                from sqlalchemy import text
                rows = (await session.execute(text("SELECT what, state, attempts, error FROM outbox WHERE what LIKE 'page%'"))).all()
                pages = (await session.execute(text("SELECT dedup_key, state FROM page"))).all()
            raise RuntimeError(f"resolve events missing: {sorted(keys - set(pagerduty.taken))}; {rows}; {pages}")
        resolved_in = time.perf_counter() - started
        await asyncio.sleep(2.0)  # anything sent twice would arrive by now
        await harness.settle()
        per_key = Counter(e["dedup_key"] for e in pagerduty.events if e["event_action"] == "resolve")
        await harness.stop_app()
    finally:
        await harness.fake.stop()
        await pagerduty.stop()
    return Results(to_page, trips, resolved_in, per_key, len(incidents), pagerduty.calls, committed_in)


def render(args: argparse.Namespace, r: Results, database: str, command: str, load: float) -> str:
    p50, p99, top = (percentile(r.to_page, q) * 1000 for q in (50, 99, 100))
    doubled = sum(1 for count in r.resolves_per_key.values() if count > 1)
    return "\n".join([
        f"Run: `{command}` · {machine().summary()} · {database} · load average {load:.2f} at the start "
        "(the 2-core machine was shared with other work while this ran).",
        "",
        "| measure | result | aim |",
        "|---|---|---|",
        f"| declare → trigger taken by PagerDuty, {len(r.to_page)} SEV-1 declares, Slack and PagerDuty "
        f"{args.latency * 1000:.0f} ms away | p50 {ms(p50)} ms · p99 {ms(p99)} ms · max {ms(top)} ms | "
        f"p99 ≤ 1,000 ms: {aim(p99 <= 1000)} |",
        f"| Slack round trips until the card is posted | {min(r.card_trips)}–{max(r.card_trips)} | "
        f"≤ 2: {aim(max(r.card_trips) <= 2)} |",
        f"| {r.incidents} incidents resolved at once, 429 to every fifth call ({r.calls} calls) | "
        f"all {len(r.resolves_per_key)} resolve events in {r.resolved_in:.2f} s (the resolutions themselves "
        f"committed within {r.committed_in:.2f} s), {doubled} keys sent twice | "
        f"100 events, none doubled, ≤ 10 s: {aim(len(r.resolves_per_key) == r.incidents and doubled == 0 and r.resolved_in <= 10)} |",
    ])


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="irbot-paging-") as folder, \
            bench_database(args.database_url, Path(folder)) as database:
        results = await run(args, database.url, Path(folder))
    block = render(args, results, database.label, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO,
                    per_backend=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--declares", type=int, default=100, help="SEV-1 declares counted, then resolved at once (default 100)")
    parser.add_argument("--warmup", type=int, default=2, help="declares before them, not counted (default 2)")
    parser.add_argument("--latency", type=float, default=0.05, help="Slack and PagerDuty latency, s (default 0.05)")
    parser.add_argument("--explain", action="store_true", help="print the calls of a declare whose card took > 2")
    add_database_argument(parser)
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("paging.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
