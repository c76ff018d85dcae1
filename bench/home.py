#!/usr/bin/env python
"""Home tab and shortcuts bench: the Home tab with a busy incident history, and shortcut acks.

    .venv/bin/python bench/home.py                                   # SQLite file
    .venv/bin/python bench/home.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions):

* **Home tab round trips**: the viewer opens irbot's Home tab (``app_home_opened``) while
  ``--incidents`` (500) incidents are open (``--private`` of them private, the viewer commander of
  ``--roles``) and the viewer owns ``--actions`` (50) open action items; the Slack calls irbot makes
  from the event to the ``views.publish`` that shows the tab, and the wall time. Aim: ≤ 2 round trips.
* **Home tab CPU**: the process CPU time (``time.process_time``) of reading what the tab shows from
  the database and, separately, of rendering it into the Home view, over ``--renders`` (30) runs.
  Aim: rendering ≤ 20 ms CPU.
* **Shortcut acks**: ``--acks`` (200) global shortcuts and as many message shortcuts, one at a time,
  acked over HTTP and over Socket Mode; ``/incident help`` one at a time beside them for reference.
  Aim: p50 ≤ 5 ms, like commands.

How: irbot and the fake Slack run in this one process (the test suite's ``Harness``): irbot's HTTP
server, Bolt, database and engine as in ``irbot serve``, and the fake Slack answering every Web API
call after ``--latency`` s (50 ms). The incidents are written straight into the database (their
Slack set-up is not the subject). Ack latency: over HTTP, the signed POST sent → the whole answer
read; over Socket Mode, the envelope sent → the ack received (the fake's measure). Each shortcut
opens a form after its ack; the next shortcut is sent once that form is open (one person after another).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import (
    add_database_argument, add_docs_arguments, aim, bench_database, command_line, load_average, machine,
    ms, percentile, publish_results,
)

SECTION = "## Home tab and shortcuts (bench/home.py)"
SECTION_INTRO = ("The Home tab is published with one `views.publish` when a person opens it; shortcuts are acked "
                 "before any Slack work. Aims: the Home tab published ≤ 2 Slack round trips after "
                 "`app_home_opened` with 500 open incidents and 50 action items for the viewer, its rendering "
                 "≤ 20 ms CPU; shortcuts acked like commands (p50 ≤ 5 ms).")
BEGIN = "<!-- bench/home.py results ({backend}): begin (rewritten by the bench) -->"
END = "<!-- bench/home.py results ({backend}): end -->"
VIEWER = "alice"
AIM_TRIPS, AIM_RENDER_MS, AIM_ACK_MS = 2, 20.0, 5.0


async def seed(harness: Any, args: argparse.Namespace) -> None:
    from irbot.store import repo
    from irbot.store.models import ActionItem, Incident
    deps = harness.irbot.deps
    viewer = harness.user(VIEWER).id
    now = deps.clock()
    roles = [r.key for r in deps.settings.roles]
    async with deps.db.session() as session:
        ids = []
        for n in range(args.incidents):
            if n < args.private:  # a private incident's channel, the viewer a member of every other one
                members = [harness.fake.bot_user_id, harness.user("bob").id] + ([viewer] if n % 2 else [])
                harness.fake.add_channel(f"inc-{n + 1}-load", is_private=True, members=members,
                                         channel_id=f"CB{n:08d}", creator=harness.fake.bot_user_id)
            incident = Incident(number=0, title=f"Load test incident {n} with a realistic title length",
                                severity=f"SEV-{1 + n % 4}", type="outage", private=n < args.private,
                                setup="open", channel_id=f"CB{n:08d}", channel_name=f"inc-{n + 1}-load",
                                declarer_id=harness.user("bob").id, declared_at=now - timedelta(minutes=n))
            await repo.add_incident(incident, roles, session=session)
            ids.append(incident.id)
        for incident_id in ids[:args.roles]:
            await repo.set_role_holder(incident_id, "commander", viewer, expected=None, by=viewer, session=session)
        today = now.date()
        for k in range(args.actions):
            due = (today + timedelta(days=k - args.actions // 2)).isoformat() if k % 5 else None
            await repo.add_action(ActionItem(incident_id=ids[k % len(ids)], number=0, text=f"Follow-up number {k}",
                                             owner_id=viewer, due=due, created_by=viewer), session=session)
        await session.commit()


async def home_round_trips(harness: Any) -> dict[str, Any]:
    """The Slack calls between the event and the publish. The first open after a start also reads
    the private incidents' member lists, in the background (not waited for); measured after it."""
    fake = harness.fake
    viewer = harness.user(VIEWER)
    fake.home_views.pop(viewer.id, None)
    before = len(fake.calls)
    started = time.perf_counter()
    await harness.slack.open_home(viewer)
    while viewer.id not in fake.home_views:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await harness.settle()
    calls = [c[0] for c in fake.calls[before:]]
    path = calls[:calls.index("views.publish") + 1]
    view = fake.home_view(viewer)
    return {"path": path, "after": calls[len(path):], "elapsed": elapsed, "blocks": len(view["blocks"])}


async def home_cpu(harness: Any, runs: int) -> tuple[list[float], list[float]]:
    from irbot.services import home
    deps, viewer = harness.irbot.deps, harness.user(VIEWER).id
    read, render = [], []
    for i in range(runs + 3):
        t0 = time.process_time()
        data = await home.home_data(deps, viewer)
        t1 = time.process_time()
        home.render(deps, data)
        t2 = time.process_time()
        if i >= 3:  # warm-up: templates compiled, caches filled
            read.append((t1 - t0) * 1000)
            render.append((t2 - t1) * 1000)
    return read, render


async def acks(harness: Any, n: int) -> dict[str, list[float]]:
    from irbot.views.ids import Shortcut
    slack, fake = harness.slack, harness.fake
    ts = await fake.say("bob", "general", "Checkout is slow\nsince 10:02")
    out: dict[str, list[float]] = {"global": [], "message": [], "help": []}
    for kind in out:
        for i in range(n + 10):
            if kind == "global":
                resp = await slack.global_shortcut(VIEWER, Shortcut.DECLARE)
            elif kind == "message":
                resp = await slack.message_shortcut(VIEWER, "general", ts, Shortcut.DECLARE_FROM_MESSAGE)
            else:
                resp = await slack.command(VIEWER, "/incident", "help")
            assert resp.status == 200, resp.body
            if i >= 10:
                out[kind].append(resp.elapsed * 1000)
            await harness.settle()  # the person's form is open before the next shortcut
        await harness.settle()
        for view in list(fake.views.values()):
            view.open = False
    return out


async def run(args: argparse.Namespace, database_url: str, mode: str) -> dict[str, Any]:
    from irbot.fakeslack.harness import Harness
    harness = await Harness(database_url=database_url, socket_mode=mode == "socket").start()
    try:
        harness.fake.latency = args.latency
        result: dict[str, Any] = {"mode": mode}
        if mode == "http":
            await seed(harness, args)
            result["first"] = await home_round_trips(harness)
            result["trips"] = await home_round_trips(harness)
            result["read"], result["render"] = await home_cpu(harness, args.renders)
        result["acks"] = await acks(harness, args.acks)
        harness.fake.assert_no_violations()
        return result
    finally:
        await harness.stop()


def block(args: argparse.Namespace, results: list[dict[str, Any]], db_label: str, cmd: str, load: float) -> str:
    m = machine()
    http = results[0]
    trips, read, render = http["trips"], http["read"], http["render"]
    lines = [f"Run {datetime.now(timezone.utc).date()} on {m.summary()}; {db_label}; load average {load:.1f} "
             "before the run; the 2-core machine was shared with other work. One run, figures not assertions.", "",
             f"    {cmd}", "",
             f"irbot and the fake Slack in one process, every Web API call answered after {ms(args.latency * 1000)} ms. "
             f"{args.incidents} open incidents ({args.private} private), the viewer commander of {args.roles}, "
             f"owner of {args.actions} open action items.", "",
             "| Home tab | Figure | Aim |", "|---|---|---|",
             f"| Slack calls from `app_home_opened` to the tab shown | {len(trips['path'])} "
             f"({', '.join(trips['path'])}) | ≤ {AIM_TRIPS}: {aim(len(trips['path']) <= AIM_TRIPS)} |",
             f"| wall time, event sent → published | {ms(trips['elapsed'] * 1000)} ms | — |",
             f"| blocks in the view | {trips['blocks']} | ≤ 100 |",
             f"| CPU reading it from the database, median / max | {ms(statistics.median(read))} / {ms(max(read))} ms | — |",
             f"| CPU rendering it, median / max | {ms(statistics.median(render))} / {ms(max(render))} ms | "
             f"≤ {AIM_RENDER_MS:g} ms: {aim(max(render) <= AIM_RENDER_MS)} |", ""]
    first = http["first"]
    lines += [f"The first open after irbot started made {len(first['path'] + first['after'])} calls in all "
              f"({', '.join(sorted(set(first['path'] + first['after'])))}; {ms(first['elapsed'] * 1000)} ms to the "
              "publish): Bolt's one-time `auth.test`, and the private incidents' member lists, read in the "
              "background to decide who sees them (not waited for: the tab is published from what is stored). "
              "The figures above are the next open.", ""]
    lines += ["| Mode | Global shortcut p50 / p99 ms | Message shortcut p50 / p99 ms | `/incident help` p50 / p99 ms "
              "| Aim p50 ≤ 5 ms |", "|---|---|---|---|---|"]
    for r in results:
        a = r["acks"]
        worst = max(percentile(a["global"], 50), percentile(a["message"], 50))
        lines.append(f"| {'HTTP' if r['mode'] == 'http' else 'Socket Mode'} | "
                     f"{ms(percentile(a['global'], 50))} / {ms(percentile(a['global'], 99))} | "
                     f"{ms(percentile(a['message'], 50))} / {ms(percentile(a['message'], 99))} | "
                     f"{ms(percentile(a['help'], 50))} / {ms(percentile(a['help'], 99))} | {aim(worst <= AIM_ACK_MS)} |")
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, cmd: str) -> int:
    load = load_average()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("http", "socket"):
            with bench_database(args.database_url, Path(folder), name=f"home-{mode}") as database:
                results.append(await run(args, database.url, mode))
    db_label = database.label
    publish_results(block(args, results, db_label, cmd, load), args, section=SECTION, begin=BEGIN, end=END,
                    section_intro=SECTION_INTRO, per_backend=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_database_argument(parser)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--private", type=int, default=20)
    parser.add_argument("--roles", type=int, default=10)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--acks", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("home.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
