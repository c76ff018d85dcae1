"""``irbot demo``: a whole incident, played as people would, against the built-in fake Slack.

It runs the real app (HTTP server, database, templates, scheduler) with no configuration and
prints what each person saw, step by step. A clock the demo moves makes reminders show up
without waiting half an hour.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from irbot.config import ConfigError
from irbot.demo_status_page import STATUS_PAGE, show_status_page
from irbot.fakepagerduty.demo import DemoPagerDuty
from irbot.demo_declare import play_declare_from_message
from irbot.fakeslack.harness import FakeClock, Harness
from irbot.faketracker.demo import play_followups

DEFAULT_FOLDER = "irbot-demo"  # in the current folder
DATABASE = "irbot-demo.db"  # not irbot.db: `--out .` must never touch a real irbot's database there
POSTMORTEM = "postmortem-INC-1.md"


class Transcript:
    """Prints whatever appeared in Slack since the last step: messages, DMs, ephemerals, forms."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self._seen: set[tuple[str, str]] = set()
        self._seen_ephemerals = 0

    def step(self, who: str, action: str) -> None:
        print(f"\n▶ {who} {action}")

    def show_new(self) -> None:
        fake = self.harness.fake
        for channel in list(fake.channels.values()):
            fresh = [m for m in fake.messages(channel.id) if (channel.id, m["ts"]) not in self._seen]
            for message in fresh:
                self._seen.add((channel.id, message["ts"]))
                if message.get("subtype") in ("channel_join", "channel_topic", "pinned_item"):
                    continue
                where = f"DM to {fake.name_of(channel.im_user)}" if channel.is_im else f"#{channel.name}"
                self._print(where, fake.render_message(message))
        ephemerals = fake.ephemerals()
        for item in ephemerals[self._seen_ephemerals:]:
            where = f"#{fake.channel(item['channel']).name}, only {fake.name_of(item['user'])} sees"
            self._print(where, fake.render_message(item))
        self._seen_ephemerals = len(ephemerals)

    def show_form(self, view: dict[str, Any]) -> None:
        labels = [b["label"]["text"] for b in view.get("blocks", []) if b.get("type") == "input"]
        print(f"  ┌ form “{view['title']['text']}”: {', '.join(labels)}")

    def show_channel(self, channel_id: str) -> None:
        fake = self.harness.fake
        channel = fake.channel(channel_id)
        members = ", ".join(sorted(fake.name_of(m) for m in channel.members))
        print(f"  • #{channel.name} ({'private' if channel.is_private else 'public'}) · members: {members}")
        print(f"  • topic: {fake.topic(channel_id)}")

    @staticmethod
    def _print(where: str, rendered: str) -> None:
        print(f"  [{where}] {rendered}")


async def run_demo(out: str | None = None) -> int:
    """Play the demo in a scratch folder inside ``out``, then move its files into place.

    A rerun replaces the previous demo's files (a new database, not the old one with INC-1 taken);
    a run that fails leaves the previous files as they were, and no run leaves its scratch behind."""
    folder = Path(out or DEFAULT_FOLDER).absolute()
    scratch = _scratch_folder(folder)
    try:
        clock = FakeClock()
        pager = await DemoPagerDuty().start(scratch)
        harness = await Harness(database_url=_url(scratch / DATABASE), clock=clock, env=pager.env).start()
        try:
            await _play(harness, clock, Transcript(harness), scratch, pager)
        finally:
            await harness.stop()
            await pager.stop()
        harness.fake.assert_no_violations()
        _replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\nDone. Every Slack call followed Slack's rules. The demo left (a rerun replaces them):")
    print(f"  {folder / DATABASE}  the database\n  {folder / POSTMORTEM}  the post-mortem")
    print(f"  {folder / STATUS_PAGE}  the public status page")
    print("Explore them without Slack:")
    for command in _followups(_url(folder / DATABASE)):
        print(f"  {command}")
    return 0


def _scratch_folder(folder: Path) -> Path:
    """A private folder beside the demo's files (same file system, so moving them is a rename)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"demo: {folder} is a file; --out needs a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".irbot-demo-", dir=folder))
    except OSError as exc:
        raise ConfigError(f"demo: cannot write in {folder}: {exc.strerror or exc}") from None


def _replace(scratch: Path, folder: Path) -> None:
    # A stale -wal/-shm beside a new database would be read as part of it: they go first.
    for leftover in (folder / f"{DATABASE}-wal", folder / f"{DATABASE}-shm"):
        leftover.unlink(missing_ok=True)
    for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", POSTMORTEM, STATUS_PAGE):
        if (scratch / name).exists():
            os.replace(scratch / name, folder / name)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _followups(database_url: str) -> list[str]:
    """The commands to explore the demo's database, spelled the way irbot was started now."""
    program, on_path = sys.argv[0], shutil.which("irbot")
    if Path(program).name != "irbot":  # python -m irbot
        prefix = f"{shlex.quote(sys.executable)} -m irbot"
    elif on_path and Path(on_path).resolve() == Path(program).resolve():
        prefix = "irbot"
    else:
        prefix = shlex.quote(program)
    where = f"--database {shlex.quote(database_url)}"
    return [f"{prefix} postmortem INC-1 {where}", f"{prefix} verify INC-1 {where}",
            f"{prefix} export INC-1 {where}", f"{prefix} report {where}"]


async def _play(h: Harness, clock: FakeClock, t: Transcript, folder: Path, pager: DemoPagerDuty) -> None:
    slack, fake = h.slack, h.fake
    alice, bob, carol, dave, erin = (h.user(n) for n in ("alice", "bob", "carol", "dave", "erin"))
    print("irbot demo: a fake Slack workspace with alice, bob, carol, dave and erin; irbot runs for real.")

    t.step("alice", "types `/incident declare Checkout API returning 502s` in #general")
    await slack.command(alice, "/incident", "declare Checkout API returning 502s")
    await h.settle()
    view = slack.open_view(alice)
    t.show_form(view)
    t.step("alice", "picks SEV-1, adds a summary and submits the form")
    await slack.submit_view(alice, view["id"], {"Severity": "SEV-1", "Summary": "Half of checkout requests fail",
                                                "Affected services": "checkout, payments-api"})
    await h.settle()
    channel = fake.channel(h.incident_channels()[-1])
    t.show_channel(channel.id)
    t.show_new()
    card = h.pinned(channel.id)[0]["ts"]
    await pager.play(h, t)

    t.step("bob", f"joins #{channel.name} and clicks “Take Incident Commander” on the card")
    await fake.join(bob, channel.id)
    await slack.click(bob, channel.id, card, "Take Incident Commander")
    await h.settle()
    t.show_new()

    t.step("bob", "picks carol in “Assign Technical Lead…” and types `/incident assign comms @dave`")
    await slack.select_user(bob, channel.id, card, "Assign Technical Lead…", carol.id)
    await slack.command(bob, "/incident", f"assign comms <@{dave.id}|dave>", channel=channel.id)
    await h.settle()
    t.show_new()

    t.step("erin", "joins and clicks “Take Incident Commander”, which bob holds")
    await fake.join(erin, channel.id)
    await slack.click(erin, channel.id, card, "Take Incident Commander")
    await h.settle()
    t.show_new()

    t.step("bob", "hands command over: `/incident assign commander @erin`")
    await slack.command(bob, "/incident", f"assign commander <@{erin.id}|erin>", channel=channel.id)
    await h.settle()
    t.show_new()
    t.show_channel(channel.id)

    t.step("erin", "runs `/incident update`, sets Mitigating and explains")
    await slack.command(erin, "/incident", "update", channel=channel.id)
    await h.settle()
    view = slack.open_view(erin)
    t.show_form(view)
    await slack.submit_view(erin, view["id"], {"Status": "Mitigating",
                                               "What changed": "Rolled back the 14:02 deploy; errors falling"})
    await h.settle()
    t.show_new()

    t.step("carol", "ticks the first step of the outage checklist")
    checklist = next(m for m in fake.messages(channel.id) if "First steps" in fake.text_of(m))
    await slack.click(carol, channel.id, checklist["ts"], action_id="incident.playbook.tick")
    await h.settle()
    t.show_new()
    print("  " + fake.render_message(fake.message(channel.id, checklist["ts"])).replace("\n", "\n  "))

    t.step("erin", "runs `/incident assess` and scores 3/3/3/1")
    await slack.command(erin, "/incident", "assess", channel=channel.id)
    await h.settle()
    view = slack.open_view(erin)
    t.show_form(view)
    await slack.submit_view(erin, view["id"], {"Business impact": "3 · High", "System scope": "3 · High",
                                               "User impact": "3 · High", "Security risk": "1 · Low"})
    result = slack.open_view(erin)
    print("  ┌ " + fake.render_message({"blocks": result["blocks"], "user": erin.id}).replace("\n", "\n  │ "))

    t.step("carol and dave", "talk in the channel; carol pins a finding with 📌; bob adds an action item")
    first = await fake.say(carol, channel.id, "Errors started with the 14:02 deploy of payments-api")
    await fake.say(dave, channel.id, "Status page updated", thread_ts=first)
    await fake.react(carol, channel.id, first, "pushpin")
    await slack.command(bob, "/incident", f"action add Add a canary for payments-api <@{carol.id}> "
                                          "due 2026-12-14 priority high", channel=channel.id)
    await h.settle()
    t.show_new()
    await play_followups(h, t, channel.id)  # the action item becomes a GitHub issue, closed from GitHub

    t.step("(time)", "61 minutes pass without an update")
    clock.advance(timedelta(minutes=61))
    await h.fire_due_reminders()
    t.show_new()

    t.step("erin", "applies the assessment: clicks “Apply SEV-2”")
    await slack.click_in_view(erin, result["id"], "Apply SEV-2")
    await h.settle()
    t.show_new()

    t.step("erin", "runs `/incident resolve` and writes the resolution")
    await slack.command(erin, "/incident", "resolve", channel=channel.id)
    await h.settle()
    view = slack.open_view(erin)
    t.show_form(view)
    await slack.submit_view(erin, view["id"], {"Resolution summary (one line)": "Rolled back; fix in v43"})
    await h.settle()
    t.show_new()
    t.show_channel(channel.id)

    t.step("(stakeholders)", "read #incidents: the announcement, updated in place, and its thread")
    for message in fake.messages("incidents"):
        if message.get("bot_id"):
            print("  " + fake.render_message(message).replace("\n", "\n  "))

    t.step("erin", "runs `/incident postmortem`")
    await slack.command(erin, "/incident", "postmortem", channel=channel.id)
    await h.settle()
    t.show_new()
    shared = [m for m in fake.messages(channel.id) if m.get("files")][-1]
    document = fake.file_content(shared["files"][0]["id"]) or b""
    (folder / POSTMORTEM).write_bytes(document)
    print(f"\n  The post-mortem ({len(document.splitlines())} lines) is uploaded to #{channel.name} "
          "and bookmarked there.")
    await play_declare_from_message(h, t)
    await show_status_page(h, t, channel.id, folder)
