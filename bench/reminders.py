#!/usr/bin/env python
"""Reminder load bench: 2,000 open incidents with staggered cadences on one irbot process.

    .venv/bin/python bench/reminders.py                     # SQLite file in a temporary folder
    .venv/bin/python bench/reminders.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions):

* how late reminders reach Slack: for every UPDATE_DUE reminder, when its ``chat.postMessage``
  took effect at the fake Slack minus the reminder's ``due_at`` (p50/p95/p99/max); beside it, due
  → ``fire_reminder`` called (APScheduler's wake-up and the firing queue), how long each firing
  took and how long the event loop stalled, to tell scheduling delay from work;
* doubled reminders (more posts in a channel than distinct due times fired there: must be 0),
  cross-checked with the ``reminder.fired`` counters in the database;
* the irbot process's resident memory (VmRSS sampled every 0.25 s, and peak ``ru_maxrss``);
* start-up with 2,000 pending reminders: ``create_app`` + ``Irbot.start()`` until the scheduler
  is active with its 2,000 jobs (PostgreSQL: read from the shared job store; SQLite: rebuilt in
  memory from the ``reminder`` table), in a fresh process.

How: this process runs the fake Slack (one channel per incident; every call waits
``--slack-latency`` ms, 100 by default, before it takes effect and is answered, like the real
Web API's round trip, so lateness includes one round trip) and seeds
the database through a first irbot instance: 2,000 ``Incident`` rows (set up, investigating,
SEV-1…4 in turn with ``update_every`` 60/65/70/75 s) and one UPDATE_DUE reminder each (the
``reminder`` row, then its job through ``scheduler.plan`` as ``ReminderPlan.apply`` does), due
times spread evenly over ``--spread`` seconds. That instance stops. A second process (this file
with ``--child``) is the irbot under test: the real app (migrations, workspace, scheduler, HTTP
server) on the same database and fake Slack, running until every incident has had two
reminders (the seeded one, then the one irbot planned a cadence later), or a deadline. The fake
Slack lives outside the measured process, as the real one does, so its CPU and memory are not
irbot's.

With ``--database-url postgresql://...`` the bench creates a fresh database on that server and
drops it afterwards. The results block in docs/benchmarks.md is rewritten unless ``--no-docs``;
``--profile`` (cProfile) and ``--keep`` keep the database and irbot's log for a closer look.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import (
    Machine, add_docs_arguments, command_line, load_average, machine, new_bench_database,
    publish_results,
)

SECTION = "## Reminders (bench/reminders.py)"
BEGIN = "<!-- bench/reminders.py {backend} results: begin (rewritten by the bench) -->"
END = "<!-- bench/reminders.py {backend} results: end -->"
SIGNING_SECRET = "irbot-bench-signing-secret"
BOT_TOKEN = "xoxb-irbot-bench-token"
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")


# ---------------------------------------------------------------------------------------------
# Small helpers shared by both processes
# ---------------------------------------------------------------------------------------------

def vm_rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (VmRSS) or its high-water mark so far (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------------------------------------
# The irbot process under test (--child)
# ---------------------------------------------------------------------------------------------

async def run_child(params: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"rss_mb": {}, "timings": {}}
    t_imports = time.perf_counter()
    from irbot.app import create_app
    from irbot.config import load_settings
    from irbot.store.models import Reminder
    from sqlalchemy import func, select
    out["timings"]["imports_s"] = time.perf_counter() - t_imports
    out["rss_mb"]["after_imports"] = vm_rss_mb()

    settings = load_settings(os.environ)
    t_create = time.time()
    irbot = create_app(settings)
    scheduler = irbot.deps.scheduler
    assert scheduler is not None
    out["rss_mb"]["after_create_app"] = vm_rss_mb()

    # Instrumentation (bench only): when each job starts and ends, and when the scheduler is ready.
    fires: list[tuple[int, str, float, float, float]] = []
    inflight = 0
    dues_fired: dict[int, set[float]] = {}
    reminded = 0  # incidents that have had params["rounds"] reminders fired
    all_reminded = asyncio.Event()
    real_fire, real_start = scheduler.fire, scheduler.start

    async def timed_fire(incident_id: int, kind: str, due_at: datetime) -> None:
        nonlocal inflight, reminded
        started = time.time()
        inflight += 1
        try:
            await real_fire(incident_id, kind, due_at)
        finally:
            inflight -= 1
            fires.append((incident_id, kind, due_at.timestamp(), started, time.time()))
            seen = dues_fired.setdefault(incident_id, set())
            seen.add(due_at.timestamp())
            if len(seen) == params["rounds"]:
                reminded += 1
                if reminded == params["incidents"]:
                    all_reminded.set()

    async def timed_start(**options: Any) -> None:
        begun = time.time()
        await real_start(**options)
        out["timings"]["scheduler_start_s"] = time.time() - begun
        out["timings"]["scheduler_ready_at"] = time.time()

    scheduler.fire = timed_fire  # type: ignore[method-assign]
    # Time APScheduler's job-store calls: they are synchronous, on the event loop's thread.
    store_s = {"total": 0.0}
    store = scheduler.apscheduler._jobstores.get("default")
    out["job_store"] = type(store).__name__ if store is not None else "?"

    def timed(method: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            begun = time.perf_counter()
            try:
                return method(*a, **k)
            finally:
                store_s["total"] += time.perf_counter() - begun
        return call

    if store is not None:
        for name in ("add_job", "update_job", "remove_job", "lookup_job", "get_due_jobs", "get_next_run_time",
                     "get_all_jobs"):
            setattr(store, name, timed(getattr(store, name)))
    if params.get("firing"):  # experiment: how many reminders fire at once
        scheduler.firing = asyncio.Semaphore(params["firing"])
    scheduler.start = timed_start  # type: ignore[method-assign]

    profiler = None
    if params.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    t_start = time.time()
    await irbot.start(port=0, host="127.0.0.1")
    t_ready = time.time()
    out["timings"].update(create_app_s=t_start - t_create, start_s=t_ready - t_start,
                          create_and_start_s=t_ready - t_create, ready_at=t_ready)
    out["leader"] = scheduler.is_leader
    out["rss_mb"]["after_start"] = vm_rss_mb()
    out["rss_mb"]["peak_by_start"] = vm_rss_mb("VmHWM")
    out["catch_up_fires"] = len(fires)  # reminders already due at start-up (should be 0 here)
    # Only now (outside the timed part): how many jobs APScheduler holds.
    out["jobs_at_start"] = len(scheduler.apscheduler.get_jobs())

    rss_samples: list[float] = []
    lags: list[float] = []

    async def sample_rss() -> None:
        while True:
            rss_samples.append(vm_rss_mb())
            await asyncio.sleep(0.25)

    async def watch_loop(interval: float = 0.05) -> None:
        while True:
            begun = loop.time()
            await asyncio.sleep(interval)
            lags.append(loop.time() - begun - interval)

    watchers = [loop.create_task(sample_rss()), loop.create_task(watch_loop())]
    await asyncio.sleep(max(0.0, params["first_due"] - time.time()))  # the run: from the first due time
    cpu_before, store_before = cpu_seconds(), store_s["total"]
    run_began = time.time()
    try:  # until every incident has had its reminders (or the deadline: a backlog is then reported)
        await asyncio.wait_for(all_reminded.wait(), timeout=max(0.0, params["deadline"] - time.time()))
    except asyncio.TimeoutError:
        pass
    out["all_reminded"] = all_reminded.is_set()
    async with irbot.deps.db.session() as session:  # due but not fired yet: the backlog, if any
        out["backlog_at_end"] = (await session.execute(
            select(func.count()).select_from(Reminder)
            .where(Reminder.state == "pending", Reminder.due_at <= datetime.now(timezone.utc)))).scalar_one()

    # Stop new jobs, let the ones running finish, so every post has its fire record.
    scheduler.apscheduler.pause()
    deadline, quiet = time.time() + 20, 0
    while quiet < 3 and time.time() < deadline:
        quiet = 0 if inflight else quiet + 1
        await asyncio.sleep(0.05)
    out["cpu_s"] = cpu_seconds() - cpu_before
    out["job_store_s"] = store_s["total"] - store_before
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(params["profile"])
    out["run_s"] = time.time() - run_began
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    out["rss_mb"]["samples"] = rss_samples
    out["rss_mb"]["at_end"] = vm_rss_mb()
    out["rss_mb"]["peak"] = peak_rss_mb()
    out["rss_mb"]["hwm"] = vm_rss_mb("VmHWM")
    out["loop_lag_s"] = lags
    out["fires"] = fires
    out["still_inflight"] = inflight
    await irbot.stop()
    return out


def child_main(result_path: str, params_json: str) -> None:
    import logging
    # As `irbot serve` logs (INFO), to a file so the bench output stays readable.
    logging.basicConfig(level=logging.INFO, filename=os.environ["BENCH_LOG"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = asyncio.run(run_child(json.loads(params_json)))
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The orchestrating process: database, fake Slack, seeding, analysis, report
# ---------------------------------------------------------------------------------------------

def make_timed_fake(latency: float = 0.0) -> Any:
    from irbot.fakeslack.fake_slack import FakeSlack

    class TimedFakeSlack(FakeSlack):
        """The fake Slack, noting when each chat.postMessage took effect (bench-only subclass)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.posts: list[tuple[str, float, bool]] = []

        def record(self, method: str, args: Any, body: Any, status: int, headers: Any = None) -> Any:
            if method == "chat.postMessage":
                self.posts.append((str(args.get("channel")), time.time(), bool(body and body.get("ok"))))
            # The bench does not read fake.calls; keep it from holding every message body.
            response = super().record(method, args, body, status, headers)
            self.calls.clear()
            return response

    fake = TimedFakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    fake.latency = latency  # Slack's round trip: each call waits this long, then takes effect and answers
    return fake


def write_config(folder: Path, cadences: list[str]) -> Path:
    lines = []
    for key, every in zip(SEVERITIES, cadences):
        lines += ["[[severities]]", f'key = "{key}"', f'update_every = "{every}"', 'respond_within = "1d"', ""]
    path = folder / "irbot.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def seed(env: dict[str, str], channels: list[tuple[str, str]], args: argparse.Namespace) -> dict[str, Any]:
    """Incidents, roles and one UPDATE_DUE reminder each, through a first irbot instance."""
    from irbot.app import create_app
    from irbot.config import load_settings
    from irbot.domain.reminders import ReminderKind
    from irbot.store import repo
    from irbot.store.models import Counter, Incident, IncidentRole, Reminder

    settings = load_settings(env)
    irbot = create_app(settings)
    await irbot.start(port=0, host="127.0.0.1")
    deps = irbot.deps
    n = len(channels)
    now = deps.clock()
    first_due = now + timedelta(seconds=args.lead)
    dues: dict[int, float] = {}
    planned: list[tuple[int, datetime]] = []
    channel_of: dict[int, str] = {}
    t0 = time.perf_counter()
    async with deps.db.session() as session:
        incidents = [
            Incident(number=i + 1, title=f"Bench incident {i + 1}", severity=SEVERITIES[i % len(SEVERITIES)],
                     type="outage", status="investigating", setup="open", declarer_id="U0ALICE",
                     origin_channel_id="C0GENERAL", channel_id=cid, channel_name=name,
                     declared_at=now - timedelta(minutes=5))
            for i, (cid, name) in enumerate(channels)
        ]
        session.add_all(incidents)
        await session.flush()
        session.add_all([IncidentRole(incident_id=inc.id, role_key=role.key)
                         for inc in incidents for role in settings.roles])
        session.add(Counter(name=repo.INCIDENT_COUNTER, value=n))
        for i, incident in enumerate(incidents):
            assert incident.id is not None
            due = first_due + timedelta(seconds=args.spread * i / n)
            # The rows repo.set_reminder writes, added in bulk (its savepoint per row makes seeding slow);
            # the jobs then go through scheduler.plan as ReminderPlan.apply does.
            session.add(Reminder(incident_id=incident.id, kind=ReminderKind.UPDATE_DUE.value, due_at=due,
                                 state="pending"))
            planned.append((incident.id, due))
            dues[incident.id] = due.timestamp()
            channel_of[incident.id] = incident.channel_id or ""
        await session.commit()
    t1 = time.perf_counter()
    for incident_id, due_at in planned:  # 2,000 jobs into APScheduler's job store
        deps.scheduler.plan(incident_id, ReminderKind.UPDATE_DUE, due_at)
    t2 = time.perf_counter()
    await irbot.stop()
    return {"rows_s": t1 - t0, "jobs_s": t2 - t1, "first_due": first_due.timestamp(),
            "last_due": max(dues.values()), "channel_of": channel_of, "seeded_at": time.time()}


def analyse(seeded: dict[str, Any], child: dict[str, Any], posts: list[tuple[str, float, bool]],
            fired_in_db: int) -> dict[str, Any]:
    incident_of = {cid: iid for iid, cid in seeded["channel_of"].items()}
    by_channel: dict[str, list[float]] = defaultdict(list)
    failed_posts = 0
    for channel, arrived, ok in posts:
        if channel not in incident_of:
            continue
        if ok:
            by_channel[channel].append(arrived)
        else:
            failed_posts += 1
    starts: dict[int, dict[float, float]] = defaultdict(dict)  # incident → due → first job start
    for incident_id, _kind, due, started, _ended in child["fires"]:
        starts[incident_id].setdefault(due, started)
    e2e, wake, doubled, missing = [], [], 0, 0
    per_incident = []
    for incident_id, channel in seeded["channel_of"].items():
        arrivals = sorted(by_channel.get(channel, []))
        dues = sorted(starts.get(incident_id, {}))
        per_incident.append(len(arrivals))
        doubled += max(0, len(arrivals) - len(dues))
        missing += max(0, len(dues) - len(arrivals))
        for due, arrived in zip(dues, arrivals):
            e2e.append((arrived - due) * 1000)
            wake.append((starts[incident_id][due] - due) * 1000)
    durations = [(ended - started) * 1000 for _i, _k, _d, started, ended in child["fires"]]
    all_dues = sorted(d for per in starts.values() for d in per)
    busiest = 0
    if all_dues:
        buckets: dict[int, int] = defaultdict(int)
        for due in all_dues:
            buckets[int(due)] += 1
        busiest = max(buckets.values())
    total_posts = sum(per_incident)
    span = (max(max(v) for v in by_channel.values()) - all_dues[0]) if by_channel and all_dues else float("nan")
    return {
        "posts": total_posts, "fires": len(child["fires"]), "failed_posts": failed_posts,
        "doubled": doubled, "missing": missing, "fired_in_db": fired_in_db,
        "min_per_incident": min(per_incident) if per_incident else 0,
        "with_two": sum(1 for c in per_incident if c >= 2), "incidents": len(per_incident),
        "e2e": e2e, "wake": wake, "durations": durations, "busiest_second": busiest,
        "rate": total_posts / span if span and span == span else float("nan"), "span_s": span,
    }


def fired_counter(database_url: str) -> int:
    from sqlalchemy import create_engine, text
    from irbot.store.db import sync_url
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        value = conn.execute(text("SELECT COALESCE(SUM(fired), 0) FROM reminder WHERE kind = 'update_due'")).scalar()
    engine.dispose()
    return int(value or 0)


def ms(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def render(args: argparse.Namespace, backend: str, facts: Machine, seeded: dict[str, Any],
           child: dict[str, Any], stats: dict[str, Any], command: str, cold_start_s: float,
           load: tuple[float, float], spawner_rss: float) -> str:
    e2e, wake, lags = stats["e2e"], stats["wake"], [lag * 1000 for lag in child["loop_lag_s"]]
    rss = child["rss_mb"]
    during = rss["samples"] or [float("nan")]
    t = child["timings"]
    cadences = "/".join(args.cadences.split(","))
    fires_per_s = stats["fires"] / child["run_s"] if child["run_s"] else float("nan")
    spread = " / ".join
    rows = [
        ("Open incidents (one UPDATE_DUE reminder each)",
         f"{stats['incidents']:,}; cadences {cadences} (SEV-1…4, {stats['incidents'] // 4:,} each); "
         f"first reminders due evenly over {args.spread:g} s"),
        ("Reminders posted", f"{stats['posts']:,} in {stats['span_s']:.0f} s ({stats['rate']:.0f}/s on average, "
                             f"at most {stats['busiest_second']} due in one second)"),
        ("Incidents reminded at least twice", f"{stats['with_two']:,} / {stats['incidents']:,}"),
        ("Doubled reminders", f"{stats['doubled']} (posts per channel vs distinct due times fired; "
                              f"`reminder.fired` sums to {stats['fired_in_db']:,})"),
        ("**Lateness**, due → chat.postMessage reaches Slack: p50 / p95 / p99 / max",
         "**" + spread(f"{ms(percentile(e2e, q))} ms" for q in (50, 95, 99)) + "** / "
         f"{ms(max(e2e, default=float('nan')))} ms"),
        ("… due → fire_reminder starts (APScheduler wake-up + firing queue): p50 / p99 / max",
         spread(f"{ms(percentile(wake, q))} ms" for q in (50, 99)) + f" / {ms(max(wake, default=float('nan')))} ms"),
        ("fire_reminder duration: p50 / p99",
         f"{ms(percentile(stats['durations'], 50))} ms / {ms(percentile(stats['durations'], 99))} ms"),
        (f"APScheduler job store ({child['job_store']}), synchronous on the event loop",
         f"{child['job_store_s']:.1f} s in {child['run_s']:.0f} s; "
         f"{child['job_store_s'] / max(1, stats['fires']) * 1000:.1f} ms per reminder"),
        ("Event-loop stalls (50 ms ticker overshoot): p99 / max",
         f"{ms(percentile(lags, 99))} ms / {ms(max(lags, default=float('nan')))} ms"),
        ("irbot CPU from the first due time to the last reminder",
         f"{child['cpu_s'] / child['run_s'] * 100:.0f} % of one core; "
         f"{child['cpu_s'] / max(1, stats['fires']) * 1000:.1f} ms per reminder ({fires_per_s:.0f} fired/s)"),
        ("**Resident memory** (VmRSS): after start-up / highest sampled / at end",
         f"{rss['after_start']:.0f} MB / **{max(during):.0f} MB** / {rss['at_end']:.0f} MB"),
        ("Peak resident memory: VmHWM at start-up / at the end; ru_maxrss",
         f"{rss['peak_by_start']:.0f} MB / {rss['hwm']:.0f} MB; {rss['peak']:.0f} MB (Linux carries the spawning "
         f"process's {spawner_rss:.0f} MB over fork+exec into ru_maxrss)"),
        ((f"**Start-up**, {stats['incidents']:,} pending reminders (jobs rebuilt in memory from the `reminder` "
          "table): " if child["job_store"] == "MemoryJobStore"
          else f"**Start-up**, {stats['incidents']:,} jobs persisted in the {child['job_store']}: ")
         + "`create_app` + `start()` until the scheduler is active",
         f"**{t['create_and_start_s'] * 1000:,.0f} ms** (jobs then: {child['jobs_at_start']:,}; "
         f"due at start: {child['catch_up_fires']})"),
        ("… of which the scheduler (lock, job check; any catch-up runs in the background)", f"{t['scheduler_start_s'] * 1000:,.0f} ms"),
        ("Cold start: process spawned → scheduler active (imports included)",
         f"{cold_start_s * 1000:,.0f} ms (imports {t['imports_s'] * 1000:,.0f} ms)"),
        (f"Seeding, not measured as irbot: rows / {stats['incidents']:,} `scheduler.plan`",
         f"{seeded['rows_s']:.1f} s / {seeded['jobs_s']:.1f} s"),
    ]
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {facts.cores} cores ({facts.cpu}), {facts.memory} RAM, {facts.system}, "
        f"Python {facts.python}; database: {backend}. Load average (1 min) {load[0]:.1f} before the run, "
        f"{load[1]:.1f} after (the fake Slack and any other work on the machine count). One run: figures, "
        "not assertions.",
        "",
        "```",
        command,
        "```",
        "",
        "| Figure | Value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
    ]
    problems = []
    if stats["doubled"] or stats["missing"] or stats["failed_posts"]:
        problems.append(f"doubled {stats['doubled']}, fired without a post {stats['missing']}, "
                        f"failed posts {stats['failed_posts']}")
    if child["catch_up_fires"]:
        problems.append(f"{child['catch_up_fires']} reminders were already due at start-up: raise --lead")
    if child["still_inflight"]:
        problems.append(f"{child['still_inflight']} reminders still firing at the end")
    if not child["all_reminded"]:
        problems.append(f"stopped at the deadline with {child['backlog_at_end']} reminders due but not yet fired "
                        "(a backlog: irbot fired slower than reminders came due)")
    if problems:
        lines += ["", "Warnings: " + "; ".join(problems) + "."]
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    from irbot.domain.durations import parse_duration

    cadences = args.cadences.split(",")
    if len(cadences) != len(SEVERITIES):
        raise SystemExit(f"--cadences: give {len(SEVERITIES)} durations, one per severity")
    longest = max(parse_duration(c).calendar().total_seconds() for c in cadences)
    folder = Path(tempfile.mkdtemp(prefix="irbot-bench-"))
    database = new_bench_database(args.database_url, folder)
    database_url, backend, cleanup = database.url, database.label, database.drop
    fake = make_timed_fake(args.slack_latency / 1000)
    await fake.start()
    try:
        names = [f"inc-bench-{i + 1:04d}" for i in range(args.incidents)]
        channels = [(fake.add_channel(name, members=[fake.bot_user_id]).id, name) for name in names]
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": fake.api_url, "DATABASE_URL": database_url,
               "IRBOT_CONFIG": str(write_config(folder, cadences))}
        print(f"seeding {args.incidents:,} incidents ({backend}) ...", flush=True)
        seeded = await seed(env, channels, args)
        print(f"  rows+reminders {seeded['rows_s']:.1f} s, jobs {seeded['jobs_s']:.1f} s; "
              f"first reminder due in {seeded['first_due'] - time.time():.1f} s", flush=True)
        # Every incident: its seeded reminder, then at least one cadence later a second one.
        end_at = seeded["last_due"] + (longest if args.rounds == 2 else 0) + args.margin
        params = {"deadline": end_at + args.grace, "first_due": seeded["first_due"],
                  "incidents": args.incidents, "rounds": args.rounds,
                  "firing": args.firing, "profile": str(folder / "irbot.prof") if args.profile else None}
        result_path = folder / "child.json"
        child_env = {**os.environ, **env, "BENCH_LOG": str(folder / "irbot.log")}
        print(f"irbot process running until each incident has had {args.rounds} reminder(s) "
              f"(~{end_at - time.time():.0f} s, at most {end_at + args.grace - time.time():.0f} s) ...",
              flush=True)
        load_before, spawner_rss = load_average(), vm_rss_mb()
        spawned = time.time()
        with open(folder / "child.out", "wb") as output:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--child", str(result_path), json.dumps(params),
                env=child_env, stdout=output, stderr=subprocess.STDOUT)
            try:
                code = await asyncio.wait_for(proc.wait(), timeout=end_at + args.grace - time.time() + 120)
            except asyncio.TimeoutError:
                proc.kill()
                code = -1
        if code != 0 or not result_path.exists():
            print(f"the irbot process failed (exit {code}); its output:", file=sys.stderr)
            print((folder / "child.out").read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1
        load_after = load_average()
        child = json.loads(result_path.read_text(encoding="utf-8"))
        cold_start_s = child["timings"]["scheduler_ready_at"] - spawned
        stats = analyse(seeded, child, fake.posts, fired_counter(database_url))
        block = render(args, backend, machine(), seeded, child, stats, command, cold_start_s,
                       (load_before, load_after), spawner_rss)
        publish_results(block, args, section=SECTION, begin=BEGIN, end=END, per_backend=True)
        return 0
    finally:
        await fake.stop()
        cleanup()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a fresh database is created there and dropped); "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--cadences", default="60s,65s,70s,75s",
                        help="update_every of SEV-1..SEV-4, comma-separated (default %(default)s)")
    parser.add_argument("--spread", type=float, default=60.0,
                        help="first reminders' due times spread evenly over this many seconds")
    parser.add_argument("--lead", type=float, default=None,
                        help="seconds from seeding to the first due time; seeding the jobs and starting irbot "
                             "must fit (default 15, or 30 on PostgreSQL where seeding the job store is slower)")
    parser.add_argument("--rounds", type=int, choices=(1, 2), default=2,
                        help="reminders each incident gets before the run ends (default %(default)s)")
    parser.add_argument("--margin", type=float, default=5.0, help="seconds after the last expected due time")
    parser.add_argument("--grace", type=float, default=20.0,
                        help="seconds more to wait for late reminders before stopping anyway")
    parser.add_argument("--slack-latency", type=float, default=100.0, metavar="MS",
                        help="every Web API call waits this many ms at the fake Slack before it takes effect "
                             "and is answered, like the real round trip (default %(default)g)")
    parser.add_argument("--firing", type=int, default=None,
                        help="experiment: override how many reminders the scheduler fires at once")
    add_docs_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, irbot.log)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the irbot process (start-up and run) into irbot.prof in the kept folder; "
                             "figures are then slower than unprofiled")
    args = parser.parse_args()
    if args.lead is None:
        args.lead = 30.0 if args.database_url else 15.0
    if args.profile:
        args.keep = args.no_docs = True
    command = command_line("reminders.py", sys.argv[1:], hidden=("--no-docs", "--keep"))
    return asyncio.run(orchestrate(args, command))


if __name__ == "__main__":
    sys.exit(main())
