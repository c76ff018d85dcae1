#!/usr/bin/env python
"""Declare bench: the sequential Slack round trips of a declare's set-up, and the database sessions
one declare opens.

    .venv/bin/python bench/declare.py                                 # SQLite file
    .venv/bin/python bench/declare.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions), for each of ``--declares`` declares
(after ``--warmup`` declares that are not counted), from the moment the declare form's
``view_submission`` is sent until irbot's background work for it is done:

* **Sequential Slack round trips** until (a) the declarer is in the incident channel
  (``conversations.invite`` of alice answered), (b) the incident card is posted, (c) everything
  is done (the last Web API call). Every Web API call has a span in the fake Slack's log, from its
  request arriving to its answer (``--latency``, 50 ms, later); calls whose spans overlap, directly
  or through other calls, were in flight together and are one round trip.
* **Database sessions**: every ``deps.db.session()`` (a unit of work, transaction), ``deps.db.reader()``
  (a read outside any transaction) and ``deps.db.single_write()`` (one statement that commits on its
  own) irbot opens, counted by wrapping those three methods of the running app's ``Database``; and,
  as a cross-check, the connection checkouts from SQLAlchemy's pools (``checkout`` pool events on
  the write engine and, on SQLite, the separate read engine; a session that runs no statement
  checks nothing out). Each opening is attributed to the irbot function that asked for it.

How: in one process, with the test harness (``irbot.fakeslack.harness.Harness``): the real app (HTTP
server, Bolt, database, engine) and the fake Slack share one event loop, so the figures are the
app's structure, not its speed; the person's requests still arrive over signed HTTP. The
database is a fresh SQLite file, or a new database on the PostgreSQL server of ``--database-url``
(dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import traceback
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from _common import (
    add_database_argument, add_docs_arguments, aim, by_round_trip, bench_database, command_line, load_average,
    machine, publish_results, round_trips, timed_fake_slack,
)

SECTION = "## Declare: Slack round trips and database sessions (bench/declare.py)"
SECTION_INTRO = ("What one `/incident declare` costs from the form's submission until its set-up is done: the "
                 "sequential Slack round trips until the declarer is in the channel (aim ≤ 2), the card is "
                 "posted (aim ≤ 2) and everything is done (aim ≤ 4), and the database sessions irbot opens "
                 "(aim ≤ 8).")
BEGIN = "<!-- bench/declare.py results ({backend}): begin (rewritten by the bench) -->"
END = "<!-- bench/declare.py results ({backend}): end -->"
DECLARER = "alice"
AIMS = {"declarer in the channel": 2, "card posted": 2, "everything done": 4}
AIM_SESSIONS = 8
CARD_BUTTON = "Take Incident Commander"


@dataclass
class Declare:
    trips: dict[str, int]  # milestone → sequential round trips until it
    calls: list[tuple[int, str]]  # (round trip, method) of every Web API call, in arrival order
    sessions: Counter[str] = field(default_factory=Counter)  # "kind: caller" → openings
    by_timers: Counter[str] = field(default_factory=Counter)  # the same, by timer loops meanwhile
    checkouts: int = 0  # every pool checkout, the timer loops' included

    @property
    def opened(self) -> int:
        return sum(self.sessions.values())


# ---------------------------------------------------------------------------------------------
# Counting database sessions
# ---------------------------------------------------------------------------------------------

# Loops that run on a timer whether anybody declares or not (the outbox sweep every 2 s, the
# scheduler's reconcile): a session they open while a declare is measured is not the declare's.
TIMER_LOOPS = (("tasks.py", "_run"), ("scheduler.py", "_leadership_loop"))


def caller() -> tuple[str, bool]:
    """The irbot function that opened the session (and the one that called it), and whether a
    timer loop (``TIMER_LOOPS``) is what ran it."""
    stack = traceback.extract_stack()[:-3]
    timer = any(f.filename.endswith(file) and f.name == name for f in stack for file, name in TIMER_LOOPS)
    frames = [f for f in stack
              if "/irbot/" in f.filename and not f.filename.endswith(("store/db.py", "contextlib.py"))]
    names = [f"{Path(f.filename).parent.name}/{Path(f.filename).stem}.{f.name}" for f in frames[-2:]]
    return " ← ".join(reversed(names)) or "?", timer


class SessionCounter:
    """Wraps ``session``/``reader``/``single_write`` of a ``Database`` and listens to its pools."""

    def __init__(self, db: Any) -> None:
        from sqlalchemy import event
        self.openings: Counter[str] = Counter()
        self.by_timers: Counter[str] = Counter()  # opened by a timer loop meanwhile, not by the declare
        self.checkouts = 0
        self.counting = False
        for kind in ("session", "reader", "single_write"):
            setattr(db, kind, self._wrap(kind, getattr(db, kind)))
        pools = {id(e.sync_engine.pool): e.sync_engine.pool for e in (db.engine, db._read_engine)}
        for pool in pools.values():
            event.listen(pool, "checkout", self._checked_out)

    def _wrap(self, kind: str, opener: Callable[[], Any]) -> Callable[[], Any]:
        @asynccontextmanager
        async def counted() -> AsyncIterator[Any]:
            if self.counting:
                name, timer = caller()
                (self.by_timers if timer else self.openings)[f"{kind}: {name}"] += 1
            async with opener() as session:
                yield session
        return counted

    def _checked_out(self, *_args: Any) -> None:
        if self.counting:
            self.checkouts += 1

    def start(self) -> None:
        self.openings.clear()
        self.by_timers.clear()
        self.checkouts = 0
        self.counting = True

    def stop(self) -> tuple[Counter[str], Counter[str], int]:
        self.counting = False
        return Counter(self.openings), Counter(self.by_timers), self.checkouts


# ---------------------------------------------------------------------------------------------
# One declare
# ---------------------------------------------------------------------------------------------

async def declare(harness: Any, counter: SessionCounter, title: str) -> Declare:
    from _common import open_declare_form
    fake = harness.fake
    view_id = await open_declare_form(fake, harness.slack, DECLARER, title)
    await harness.settle()
    channels_before = set(fake.channels)
    first = len(fake.calls)
    counter.start()
    answer = await harness.slack.submit_view(DECLARER, view_id, {})
    if answer.status != 200:
        raise RuntimeError(f"the declare form was answered {answer.status}: {answer.body[:200]}")
    await harness.settle()
    await fake.events_delivered()
    await harness.settle()
    sessions, by_timers, checkouts = counter.stop()
    [channel] = [c for c in fake.channels if c not in channels_before]
    calls = list(range(first, len(fake.calls)))
    trips = round_trips([fake.spans[i] for i in calls])
    alice = fake.user(DECLARER).id
    milestones: dict[str, int] = {}
    for trip, i in zip(trips, calls):
        method, args, body, _status = fake.calls[i]
        if not (body or {}).get("ok"):
            continue
        if (method == "conversations.invite" and args.get("channel") == channel
                and alice in str(args.get("users", "")).split(",")):
            milestones.setdefault("declarer in the channel", trip)
        if (method == "chat.postMessage" and body.get("channel") == channel
                and CARD_BUTTON in json.dumps(args.get("blocks") or [])):
            milestones.setdefault("card posted", trip)
    milestones["everything done"] = max(trips, default=0)
    order = sorted(zip(trips, calls), key=lambda tc: fake.spans[tc[1]][0])
    return Declare(trips=milestones, calls=[(t, fake.calls[i][0]) for t, i in order], sessions=sessions,
                   by_timers=by_timers, checkouts=checkouts)


async def run(args: argparse.Namespace, database_url: str) -> list[Declare]:
    from irbot.fakeslack.harness import BOT_TOKEN, SIGNING_SECRET, Harness
    harness = Harness(database_url)
    harness.fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await harness.fake.start()
    try:
        await harness.start_app()
        counter = SessionCounter(harness.irbot.deps.db)
        await harness.settle()
        results = []
        for i in range(args.warmup + args.declares):
            one = await declare(harness, counter, f"Declare bench {i}")
            if i >= args.warmup:
                results.append(one)
        if harness.fake.violations:
            print("the fake Slack saw broken rules:\n  " + "\n  ".join(harness.fake.violations[:5]), file=sys.stderr)
        await harness.stop_app()
    finally:
        await harness.fake.stop()
    return results


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def render(args: argparse.Namespace, results: list[Declare], database: str, command: str, load: float) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {machine().summary()}; {database}; load average {load:.1f} before the run. "
        "One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        "irbot and the fake Slack in one process (the test harness; every Web API call answered after "
        f"{args.latency * 1000:.0f} ms); {len(results)} declares by alice, each counted from sending the form's "
        f"`view_submission` until irbot's background work is done ({args.warmup} warm-up declares not counted). "
        "A round trip: Web API calls whose spans (request arrived → answered) overlap were in flight together.",
        "",
        "| Milestone | Sequential Slack round trips (min–max over the declares) | Aim |",
        "|---|---|---|",
    ]
    for milestone, limit in AIMS.items():
        values = [r.trips.get(milestone, 0) for r in results]
        met = all(0 < v <= limit for v in values)
        lines.append(f"| {milestone} | {span(values)} | ≤ {limit}: {aim(met)} |")
    typical = results[len(results) // 2]
    lines += ["", f"The calls of one declare by round trip: {by_round_trip(typical.calls)}."]
    worst = max(results, key=lambda r: (r.trips.get("card posted", 0), r.trips.get("everything done", 0)))
    if worst.trips != typical.trips:
        lines += ["", f"The declare with the most round trips: {by_round_trip(worst.calls)}."]
    opened = [r.opened for r in results]
    checkouts = [r.checkouts for r in results]
    lines += [
        "",
        f"**Database sessions per declare: {span(opened)}** (`session` + `reader` + `single_write` openings; "
        f"aim ≤ {AIM_SESSIONS}: {aim(max(opened) <= AIM_SESSIONS)}); pool connection checkouts: {span(checkouts)}. "
        "By kind and the irbot function that opened them (the median declare):",
        "",
        "| Kind: opened by ← called from | Openings |",
        "|---|---|",
    ]
    median = sorted(results, key=lambda r: r.opened)[len(results) // 2]
    for name, count in sorted(median.sessions.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| `{name}` | {count} |")
    most = max(results, key=lambda r: r.opened)
    extra = most.sessions - median.sessions
    if extra:
        lines += ["", f"The declare that opened the most ({most.opened}) opened these beyond the median's: "
                  + ", ".join(f"`{name}` ×{count}" for name, count in sorted(extra.items())) + "."]
    timers = sum((r.by_timers for r in results), Counter())
    if timers:
        lines += ["", f"Not counted as the declare's: {sum(timers.values())} sessions over the {len(results)} "
                  "declares opened by loops that run on a timer whether anybody declares or not (the outbox "
                  "sweep every 2 s, the scheduler's reconcile): "
                  + ", ".join(f"`{name}` ×{count}" for name, count in sorted(timers.items())) + "."]
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="irbot-declare-") as folder, \
            bench_database(args.database_url, Path(folder)) as database:
        results = await run(args, database.url)
    block = render(args, results, database.label, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO,
                    per_backend=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--declares", type=int, default=10, help="declares counted (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="declares before them, not counted (default 2)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    add_database_argument(parser)
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("declare.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
