#!/usr/bin/env python
"""Click bench: how long after a "Take Incident Commander" click people see the new commander.

    .venv/bin/python bench/click.py                                   # SQLite file
    .venv/bin/python bench/click.py --database-url postgresql://postgres@127.0.0.1:5432/test

What it measures, in one run (figures, never assertions): for each click, the time from sending
the signed ``block_actions`` request to the moment the fake Slack has applied all three things the
click changes: the incident card shows the new commander, the channel topic names them, and the
announcement in the announce channel shows them (p50/p95/p99/max over ``--clicks`` clicks), in two
cases:

* **set-up done**: the declare's Slack set-up (channel, invite, card, pin, topic, announcement,
  checklist) has finished and irbot has been quiet for 0.3 s before the click;
* **during set-up**: the click is sent the moment the fake Slack has posted the incident card (a
  watcher on the fake's call log sees the card's ``chat.postMessage`` and the click goes out at
  once), while the rest of the set-up (pin, topic, announcement, checklist) still runs.

How: this process runs the fake Slack, every Web API call answered after ``--latency`` seconds
(50 ms), and starts ``python -m irbot serve`` as a child process (``IrbotProcess``) on a fresh
database (a SQLite file, or a new database on the PostgreSQL server of ``--database-url``, dropped
afterwards). irbot has its own process and event loop; the fake Slack and the bench share this one,
and both processes share the machine's cores. Every click is on a fresh incident declared by alice
and is bob's (so each click changes the commander); clicks are one at a time; a few warm-up clicks
of each case are not measured. The times are taken in this process with ``time.perf_counter()``:
sent just before the POST goes out; applied when the fake has applied the last of the three calls
(after its 50 ms), i.e. when a person reloading Slack would see all three.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from _common import (
    add_database_argument, add_docs_arguments, aim, by_round_trip, bench_database, command_line, load_average,
    machine, ms, open_declare_form, percentile, publish_results, quiet_slack, round_trips, timed_fake_slack,
)
from ack import BOT_TOKEN, SIGNING_SECRET, make_capture

SECTION = "## Click to card, topic and announcement (bench/click.py)"
SECTION_INTRO = ("A person clicks **Take Incident Commander** on the incident card; the figure is how long until "
                 "the card, the channel topic and the announcement all show them. Aim: p99 ≤ 300 ms with Slack "
                 "50 ms away, also for clicks made while the declare's set-up still runs.")
BEGIN = "<!-- bench/click.py results ({backend}): begin (rewritten by the bench) -->"
END = "<!-- bench/click.py results ({backend}): end -->"
BUTTON = "Take Incident Commander"
DECLARER, CLICKER = "alice", "bob"
AIM_P99_MS = 300.0
WARMUP = 3
APPLY_TIMEOUT = 20.0  # seconds; a click not applied by then counts as not applied (the figures say how many)


@dataclass
class Sample:
    latency: float | None  # seconds from sending the click to all three applied; None: not applied in time
    ack: float  # seconds from sending the click to its HTTP answer
    gap: float = 0.0  # during set-up: seconds from the card being posted to the click being sent
    setup_running: bool = False  # during set-up: the announcement was answered after the click was sent
    trips: int = 0  # sequential Slack round trips irbot made between the click and the last of the three
    calls: list[str] = field(default_factory=list)  # what irbot called in between, in answer order
    by_trip: list[tuple[int, str]] = field(default_factory=list)  # (round trip, method), in arrival order


# ---------------------------------------------------------------------------------------------
# One click
# ---------------------------------------------------------------------------------------------

class Applied:
    """Watches the fake's calls for the moment the card, the topic and the announcement of
    ``channel`` all show ``person``."""

    def __init__(self, fake: Any, channel: str, card_ts: str, person: str) -> None:
        self.fake, self.channel, self.card_ts = fake, channel, card_ts
        self.user_id, self.name = fake.user(person).id, person
        self.announce = fake.channel("incidents").id
        self.announcement_ts: str | None = None
        self.done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def watch(self, index: int) -> None:
        method, args, body, _status = self.fake.calls[index]
        if self.done.done() or not (body or {}).get("ok"):
            return
        if method not in ("chat.update", "chat.postMessage", "conversations.setTopic"):
            return
        if args.get("channel") not in (self.channel, self.announce):
            return
        if self.shown():
            self.done.set_result(self.fake.spans[index][1])

    def shown(self) -> bool:
        card = self.fake.message(self.channel, self.card_ts)
        if self.user_id not in json.dumps(card.get("blocks") or []):
            return False
        topic = self.fake.channel(self.channel).topic or {}
        if self.name not in str(topic.get("value", "")):
            return False
        announcement = self.find_announcement()
        return announcement is not None and self.user_id in json.dumps(announcement.get("blocks") or [])

    def find_announcement(self) -> dict[str, Any] | None:
        if self.announcement_ts is None:
            link = f"<#{self.channel}>"
            for message in reversed(self.fake.messages(self.announce)):
                if link in json.dumps(message.get("blocks") or []):
                    self.announcement_ts = message["ts"]
                    break
            else:
                return None
        return self.fake.message(self.announce, self.announcement_ts)


async def click(fake: Any, session: aiohttp.ClientSession, events_url: str, channel: str, card_ts: str) -> Sample:
    """Send bob's click and wait until the card, topic and announcement show him."""
    from irbot.fakeslack.fake.events import signed_headers
    capture = make_capture(fake)
    body, content_type = await capture.take(capture.click(CLICKER, channel, card_ts, BUTTON))
    headers = signed_headers(SIGNING_SECRET, body, content_type)
    applied = Applied(fake, channel, card_ts, CLICKER)
    fake.watchers.append(applied.watch)
    first_call = len(fake.calls)
    try:
        sent = time.perf_counter()
        async with session.post(events_url, data=body, headers=headers) as response:
            await response.read()
            acked = time.perf_counter()
            if response.status != 200:
                raise RuntimeError(f"the click was answered {response.status}")
        try:
            done_at: float | None = await asyncio.wait_for(asyncio.shield(applied.done), APPLY_TIMEOUT)
        except asyncio.TimeoutError:
            done_at = None
    finally:
        fake.watchers.remove(applied.watch)
    until = done_at if done_at is not None else time.perf_counter()
    between = [i for i in range(first_call, len(fake.calls)) if fake.spans[i][1] <= until]
    trips = round_trips([fake.spans[i] for i in between])
    by_arrival = sorted(zip(trips, between), key=lambda ti: fake.spans[ti[1]][0])
    return Sample(latency=None if done_at is None else done_at - sent, ack=acked - sent,
                  trips=max(trips, default=0), calls=[fake.calls[i][0] for i in between],
                  by_trip=[(t, fake.calls[i][0]) for t, i in by_arrival])


def the_card(fake: Any, channel: str) -> str:
    for message in fake.messages(channel):
        if message.get("bot_id") and BUTTON in json.dumps(message.get("blocks") or []):
            return str(message["ts"])
    raise RuntimeError(f"no incident card in {channel}")


async def click_after_setup(fake: Any, client: Any, session: aiohttp.ClientSession, events_url: str,
                            title: str) -> Sample:
    view_id = await open_declare_form(fake, client, DECLARER, title)
    channels_before = set(fake.channels)
    await client.submit_view(DECLARER, view_id, {})
    await quiet_slack(fake)
    [channel] = [c for c in fake.channels if c not in channels_before]
    sample = await click(fake, session, events_url, channel, the_card(fake, channel))
    await quiet_slack(fake)
    return sample


async def click_during_setup(fake: Any, client: Any, session: aiohttp.ClientSession, events_url: str,
                             title: str) -> Sample:
    view_id = await open_declare_form(fake, client, DECLARER, title)
    posted: asyncio.Future[tuple[str, str, float]] = asyncio.get_running_loop().create_future()

    def watch(index: int) -> None:
        method, args, body, _status = fake.calls[index]
        if (method == "chat.postMessage" and (body or {}).get("ok") and not posted.done()
                and BUTTON in json.dumps(args.get("blocks") or [])):
            posted.set_result((body["channel"], body["ts"], fake.spans[index][1]))

    fake.watchers.append(watch)
    try:
        submitting = asyncio.create_task(client.submit_view(DECLARER, view_id, {}))
        channel, card_ts, posted_at = await asyncio.wait_for(posted, 15)
    finally:
        fake.watchers.remove(watch)
    gap = time.perf_counter() - posted_at
    sample = await click(fake, session, events_url, channel, card_ts)
    await submitting
    await quiet_slack(fake)
    sample.gap = gap
    sample.setup_running = announced_after(fake, channel, posted_at + gap)
    return sample


def announced_after(fake: Any, channel: str, moment: float) -> bool:
    """Was the incident's announcement posted after ``moment`` (the set-up still running then)?"""
    announce, link = fake.channel("incidents").id, f"<#{channel}>"
    for (method, args, body, _status), (_arrived, answered) in zip(fake.calls, fake.spans):
        if (method == "chat.postMessage" and args.get("channel") in (announce, "incidents") and (body or {}).get("ok")
                and link in json.dumps(args.get("blocks") or [])):
            return answered > moment
    return False


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

async def run(args: argparse.Namespace, database_url: str, folder: Path) -> dict[str, list[Sample]]:
    from tests.rigs.processes import IrbotProcess, irbot_env
    from irbot.fakeslack.signed_client import SlackClient
    fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await fake.start()
    env = irbot_env(api_url=fake.api_url, database_url=database_url, bot_token=BOT_TOKEN,
                    signing_secret=SIGNING_SECRET)
    bot = IrbotProcess(env=env, log_dir=folder, name="irbot-click")
    results: dict[str, list[Sample]] = {"set-up done": [], "during set-up": []}
    try:
        await bot.start()
        fake.app_url = bot.events_url
        client = SlackClient(fake, app_url=bot.events_url, signing_secret=SIGNING_SECRET)
        await quiet_slack(fake)
        async with aiohttp.ClientSession() as session:
            for case, one in (("set-up done", click_after_setup), ("during set-up", click_during_setup)):
                for i in range(WARMUP + args.clicks):
                    sample = await one(fake, client, session, bot.events_url, f"Click {case} {i}")
                    if i >= WARMUP:
                        results[case].append(sample)
                    if (i + 1) % 25 == 0:
                        done = [s.latency * 1000 for s in results[case] if s.latency is not None]
                        print(f"{case}: {i + 1} clicks, p50 so far {ms(percentile(done, 50))} ms",
                              file=sys.stderr, flush=True)
        errors = [line for line in bot.log_text().splitlines() if " ERROR " in line or "Traceback" in line]
        if errors:
            print("irbot logged errors:\n  " + "\n  ".join(errors[:5]), file=sys.stderr)
        if fake.violations:
            print("the fake Slack saw broken rules:\n  " + "\n  ".join(fake.violations[:5]), file=sys.stderr)
    finally:
        fake.app_url = None
        bot.terminate()
        await fake.stop()
    return results


def render(args: argparse.Namespace, results: dict[str, list[Sample]], database: str, command: str,
           load: float) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {machine().summary()}; {database}; load average {load:.1f} before the run. "
        "One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        f"irbot runs as an `irbot serve` child process; this process runs the fake Slack (every Web API call "
        f"answered after {args.latency * 1000:.0f} ms) and sends the clicks. Each click is bob's "
        f"**{BUTTON}** on a fresh incident, one click at a time; {WARMUP} warm-up clicks per case are not "
        "counted. Latency: signed `block_actions` POST sent → the fake Slack has applied the last of the card "
        "(`chat.update` showing bob), the topic (`conversations.setTopic` naming him) and the announcement "
        "(showing him). *During set-up*: the click is sent the moment the fake has posted the card.",
        "",
        "| Case | Clicks | p50 ms | p95 ms | p99 ms | max ms | Not applied in 20 s | Click ack p50 / p99 ms | "
        "Slack round trips click → applied | Aim p99 ≤ 300 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, samples in results.items():
        done = [s.latency * 1000 for s in samples if s.latency is not None]
        acks = [s.ack * 1000 for s in samples]
        trips = sorted({s.trips for s in samples})
        p99 = percentile(done, 99) if len(done) == len(samples) else float("inf")
        lines.append(
            f"| {case} | {len(samples)} | {ms(percentile(done, 50))} | {ms(percentile(done, 95))} | "
            f"{ms(percentile(done, 99))} | {ms(max(done, default=float('nan')))} | {len(samples) - len(done)} | "
            f"{ms(percentile(acks, 50))} / {ms(percentile(acks, 99))} | "
            f"{trips[0] if len(trips) == 1 else f'{trips[0]}–{trips[-1]}' if trips else '?'} | "
            f"{aim(p99 <= AIM_P99_MS)} |")
    during = results["during set-up"]
    if during:
        gaps = [s.gap * 1000 for s in during]
        running = sum(s.setup_running for s in during)
        lines += ["", f"During set-up: the click went out {ms(percentile(gaps, 50))} ms (p50; max "
                  f"{ms(max(gaps))} ms) after the fake answered the card's `chat.postMessage`; in {running} of "
                  f"{len(during)} declares the announcement was posted after the click was sent (the set-up was "
                  "still running)."]
    for case, samples in results.items():
        if samples:
            ordered = sorted(samples, key=lambda s: s.latency or float("inf"))
            for which, sample in (("the median click", ordered[len(ordered) // 2]), ("the slowest", ordered[-1])):
                took = "not applied" if sample.latency is None else f"{sample.latency * 1000:.0f} ms"
                lines += ["", f"{case.capitalize()}, {which} ({took}): the Web API calls answered between the click "
                          f"and the last of the three, by round trip: {by_round_trip(sample.by_trip)}."]
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="irbot-click-") as folder, \
            bench_database(args.database_url, Path(folder)) as database:
        results = await run(args, database.url, Path(folder))
    block = render(args, results, database.label, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO,
                    per_backend=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clicks", type=int, default=100, help="measured clicks per case (default 100)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    add_database_argument(parser)
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("click.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
