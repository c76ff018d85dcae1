#!/usr/bin/env python
"""Reminder catch-up bench: irbot starting with many reminders that came due while it was down.

    .venv/bin/python bench/catch_up.py                     # SQLite file in a temporary folder
    .venv/bin/python bench/catch_up.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions):

* ``Irbot.start()`` with ``--overdue`` (500) UPDATE_DUE reminders due half an hour ago: how long
  it takes, and how many reminders had reached Slack by the time it returned;
* how long a Slack request waits right after: a signed ``/incident help`` slash command, sent as
  soon as ``start()`` returns (Slack gives up on an ack after 3 s);
* the catch-up: ``start()`` returned → every reminder posted, and doubled reminders (more than one
  post in a channel: must be 0).

How: irbot and the fake Slack share this process (every Web API call waits ``--slack-latency`` ms,
100 by default, like the real round trip). A first irbot instance migrates the database and is
stopped; the incidents (SEV-1, investigating, one channel each) and their overdue reminder rows are
then written straight to the database, and a second instance is started and measured.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import (
    add_docs_arguments, bench_database, command_line, load_average, machine, publish_results,
)

SECTION = "## Reminder catch-up at start-up (bench/catch_up.py)"
BEGIN = "<!-- bench/catch_up.py results ({backend}): begin (rewritten by the bench) -->"
END = "<!-- bench/catch_up.py results ({backend}): end -->"
SECTION_INTRO = ("irbot starting after a downtime during which hundreds of reminders came due. Aim: start-up "
                 "and Slack's requests are not held up by the catch-up (Slack wants an ack within 3 s); each "
                 "reminder posted once.")
SIGNING_SECRET = "irbot-bench-signing-secret"
BOT_TOKEN = "xoxb-irbot-bench-token"


async def seed_overdue(settings: Any, channels: list[tuple[str, str]]) -> None:
    """Incidents and one UPDATE_DUE reminder each, due half an hour ago, written while irbot is down."""
    from irbot.domain.reminders import ReminderKind
    from irbot.store import repo
    from irbot.store.db import Database
    from irbot.store.models import Counter, Incident, IncidentRole, Reminder

    db = Database(settings.database_url)
    now = datetime.now(timezone.utc)
    async with db.session() as session:
        incidents = [Incident(number=n, title=f"Bench incident {n}", severity="SEV-1", type="outage",
                              status="investigating", setup="open", declarer_id="U0ALICE",
                              origin_channel_id="C0GENERAL", channel_id=channel_id, channel_name=name,
                              declared_at=now - timedelta(hours=3))
                     for n, (channel_id, name) in enumerate(channels, start=1)]
        session.add_all(incidents)
        await session.flush()
        session.add_all([IncidentRole(incident_id=i.id, role_key=role.key) for i in incidents for role in settings.roles])
        session.add(Counter(name=repo.INCIDENT_COUNTER, value=len(incidents)))
        session.add_all([Reminder(incident_id=i.id, kind=ReminderKind.UPDATE_DUE.value,
                                  due_at=now - timedelta(minutes=30), state="pending") for i in incidents])
        await session.commit()
    await db.dispose()


async def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    from irbot.app import create_app
    from irbot.config import load_settings
    from irbot.fakeslack.fake_slack import FakeSlack
    from irbot.fakeslack.signed_client import SlackClient

    fake = FakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    await fake.start()
    try:
        channels = [(fake.add_channel(f"inc-bench-{n:04d}", members=[fake.bot_user_id]).id, f"inc-bench-{n:04d}")
                    for n in range(1, args.overdue + 1)]
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": fake.api_url, "DATABASE_URL": database_url})
        first = create_app(settings)  # migrations, then out of the way
        await first.start(port=0, host="127.0.0.1")
        await first.stop()
        await seed_overdue(settings, channels)
        fake.latency = args.slack_latency / 1000
        reminders = {channel_id for channel_id, _ in channels}

        def posted() -> int:
            return sum(1 for method, call, _body, _status in fake.calls
                       if method == "chat.postMessage" and call.get("channel") in reminders)

        irbot = create_app(settings)
        begun = time.perf_counter()
        port = await irbot.start(port=0, host="127.0.0.1")
        started = time.perf_counter()
        posted_by_start = posted()
        client = SlackClient(fake, app_url=f"http://127.0.0.1:{port}/slack/events", signing_secret=SIGNING_SECRET)
        answer = await client.command(fake.user("alice"), "/incident", "help")
        deadline = started + args.deadline
        while posted() < args.overdue and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        caught_up = time.perf_counter()
        await irbot.stop()  # start-up's redrawing of every incident's card may still run: cancelled
        per_channel = [sum(1 for method, call, _b, _s in fake.calls
                           if method == "chat.postMessage" and call.get("channel") == channel_id)
                       for channel_id in reminders]
        return {"start_s": started - begun, "posted_by_start": posted_by_start, "answer_status": answer.status,
                "answer_ms": answer.elapsed * 1000, "catch_up_s": caught_up - started, "posted": sum(per_channel),
                "doubled": sum(max(0, count - 1) for count in per_channel)}
    finally:
        await fake.stop()


def results_block(args: argparse.Namespace, result: dict[str, Any], *, backend: str, command: str,
                  load: tuple[float, float]) -> str:
    n = args.overdue
    rows = [
        ("`Irbot.start()`", f"**{result['start_s'] * 1000:,.0f} ms**; reminders posted by then: "
                            f"{result['posted_by_start']} of {n:,}"),
        ("`/incident help` sent as `start()` returns: answered", f"HTTP {result['answer_status']} in "
                                                                 f"**{result['answer_ms']:,.0f} ms**"),
        ("Catch-up: `start()` returned → every reminder posted", f"{result['catch_up_s']:.1f} s "
                                                                 f"({result['posted']:,} posts)"),
        ("Doubled reminders", str(result["doubled"])),
    ]
    return "\n".join([
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {machine().summary()}. Database: {backend}. "
        f"Load average (1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end. One run: figures, not assertions.",
        "",
        "```",
        command,
        "```",
        "",
        f"{n:,} incidents, each with an UPDATE_DUE reminder due 30 minutes before start-up; the fake Slack "
        f"answers every Web API call after {args.slack_latency:g} ms and shares irbot's process.",
        "",
        "| Figure | Value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
    ])


async def main(args: argparse.Namespace, command: str) -> int:
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="irbot-bench-catch-up-") as folder, \
            bench_database(args.database_url, Path(folder), prefix="irbot_bench_catch_up") as database:
        result = await run(args, database.url)
    block = results_block(args, result, backend=database.label, command=command, load=(load_start, load_average()))
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO,
                    per_backend=True)
    return 1 if result["doubled"] or result["posted"] != args.overdue else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server to use instead of SQLite "
                                               "(a fresh database is created there and dropped)")
    parser.add_argument("--overdue", type=int, default=500, help="reminders due at start-up (default %(default)s)")
    parser.add_argument("--slack-latency", type=float, default=100.0, metavar="MS",
                        help="every Web API call waits this many ms at the fake Slack (default %(default)g)")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="seconds to wait for the catch-up before reporting what was posted")
    add_docs_arguments(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]), command_line("catch_up.py", sys.argv[1:]))))
