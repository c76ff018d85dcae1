"""The incident report: incidents played through Slack with a clock the test moves, then reported."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from irbot.fakeslack.harness import FakeClock, Harness


@pytest.fixture
async def timed(start_harness) -> tuple[Harness, FakeClock]:  # noqa: ANN001 - conftest's factory
    clock = FakeClock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    return await start_harness(clock=clock), clock

async def run(harness: Harness, who: str, channel: str, text: str) -> Any:
    response = await harness.slack.command(harness.user(who), "/incident", text, channel=channel)
    await harness.settle()
    return response


async def resolve(harness: Harness, who: str, channel: str) -> None:
    await run(harness, who, channel, "resolve")
    view = harness.slack.open_view(harness.user(who))
    assert view is not None and view["title"]["text"] == "Resolve the incident"
    await harness.slack.submit_view(harness.user(who), view["id"], {"Resolution summary (one line)": "Fixed"})
    await harness.settle()


async def play_incidents(harness: Harness, clock: FakeClock) -> dict[str, Any]:
    """Five incidents (one a drill, two private); durations in whole minutes."""
    alice = harness.user("alice")
    take = f"assign commander <@{alice.id}>"
    today = clock.now.date()
    declared = clock.now
    impact = (declared - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M")
    # INC-1, SEV-1 outage: detect 20m, acknowledge 5m, mitigate 30m, resolve 60m; action items 1 of 2 due done.
    one = await harness.declare("alice", "Checkout errors", values={
        "Severity": "SEV-1", "Incident type": "Outage", "Affected services": "Checkout, payments",
        "When did the impact start?": impact})
    clock.advance(timedelta(minutes=5))
    await run(harness, "alice", one.id, take)
    clock.advance(timedelta(minutes=25))
    await run(harness, "alice", one.id, "status mitigating")
    clock.advance(timedelta(minutes=30))
    await resolve(harness, "alice", one.id)
    await run(harness, "alice", one.id, f"action add Alert on 502s due {today}")
    await run(harness, "alice", one.id, f"action add Load test checkout due {today - timedelta(days=3)}")
    await run(harness, "alice", one.id, "action add Write the runbook due 2099-01-31")
    await run(harness, "alice", one.id, "action add Tidy dashboards")
    await run(harness, "alice", one.id, "action done 1")
    await run(harness, "alice", one.id, "action done 3")  # done but not due yet: not counted
    # INC-2, SEV-2 outage on checkout again: acknowledge 10m, resolve 120m, one due action item not done.
    two = await harness.declare("alice", "Checkout slow", values={
        "Severity": "SEV-2", "Incident type": "Outage", "Affected services": "checkout"})
    clock.advance(timedelta(minutes=10))
    await run(harness, "alice", two.id, take)
    clock.advance(timedelta(minutes=110))
    await resolve(harness, "alice", two.id)
    await run(harness, "alice", two.id, f"action add Add a cache due {today}")
    # INC-3, SEV-1 security (private): acknowledge 2m.
    three = await harness.declare("alice", "Leaked signing key", values={
        "Severity": "SEV-1", "Incident type": "Security", "Affected services": "auth"})
    assert three.is_private
    clock.advance(timedelta(minutes=2))
    await run(harness, "alice", three.id, take)
    # INC-4, a drill on checkout: acknowledged after 1m, resolved; left out of everything.
    four = await harness.declare("alice", "Checkout game day", values={
        "Severity": "SEV-1", "Incident type": "Outage", "Affected services": "checkout",
        "Options": ["This is a drill"]})
    clock.advance(timedelta(minutes=1))
    await run(harness, "alice", four.id, take)
    await resolve(harness, "alice", four.id)
    await run(harness, "alice", four.id, f"action add Drill follow-up due {today}")
    # INC-5, SEV-3 outage on payments, private by choice: acknowledge 8m.
    five = await harness.declare("alice", "Hidden payments glitch", values={
        "Severity": "SEV-3", "Incident type": "Outage", "Affected services": "PAYMENTS",
        "Options": ["Private channel"]})
    assert five.is_private
    clock.advance(timedelta(minutes=8))
    await run(harness, "alice", five.id, take)
    clock.advance(timedelta(minutes=1))
    return {"one": one, "two": two, "three": three, "four": four, "five": five}


def shared_files(harness: Harness, channel: str) -> list[str]:
    fake = harness.fake
    return [fake.file_content(m["files"][0]["id"]).decode("utf-8")  # type: ignore[union-attr]
            for m in fake.messages(channel) if m.get("files") and m.get("bot_id")]


def check_document(document: str) -> None:
    assert "| **All** | 4 |" in document and "(1 drill left out)" in document
    # SEV-1: INC-1 and the private INC-3. Acknowledge 5m and 2m: mean = median = 3m 30s, shown as 3m.
    assert "| SEV-1 · Critical | 2 | 20m / 20m (1) | 3m / 3m (2) | 30m / 30m (1) | 1h / 1h (1) | 1 of 2 | 1 |" \
        in document
    assert "| SEV-2 · High | 1 | — | 10m / 10m (1) | — | 2h / 2h (1) | 0 of 1 | 1 |" in document
    assert "| SEV-3 · Medium | 1 | — | 8m / 8m (1) | — | — | 0 of 0 | 1 |" in document
    # Outage: INC-1, INC-2 and INC-5 acknowledged after 5, 10 and 8 minutes: mean 7m 40s, median 8m.
    assert "| Outage | 3 | 20m / 20m (1) | 7m / 8m (3) | 30m / 30m (1) | 1h 30m / 1h 30m (2) | 1 of 3 | 3 |" \
        in document
    assert "| Security | 1 | — | 2m / 2m (1) |" in document
    assert "**outage · checkout**: INC-1 Checkout errors; INC-2 Checkout slow\n" in document
    assert "**outage · payments**: INC-1 Checkout errors; a private incident\n" in document
    for secret in ("Leaked", "signing", "Hidden", "glitch", "INC-3", "INC-5", "auth"):
        assert secret not in document, f"{secret!r} names a private incident"
    assert "game day" not in document and "INC-4" not in document, "drills are left out"


async def test_report_in_slack_counts_but_never_names_private_incidents(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    fake = harness.fake
    await play_incidents(harness, clock)

    answer = await harness.slack.command(harness.user("bob"), "/incident", "report", channel="C0GENERAL")
    assert answer.status == 200 and answer.elapsed < 3
    assert "Compiling the report" in fake.text_of(answer.json)
    await harness.settle()
    [document] = shared_files(harness, "general")
    check_document(document)
    [shared] = [m for m in fake.messages("general") if m.get("files")]
    assert "4 incidents" in fake.text_of(shared) and f"<@{harness.user('bob').id}>" in fake.text_of(shared)

    # Where irbot is not a member (a public channel, a private one), the report comes by direct message.
    people = ["alice", "bob", "carol"]
    random = fake.add_channel("random", members=people)
    managers = fake.add_channel("managers", is_private=True, members=people)
    for channel in (random, managers):
        await harness.slack.command(harness.user("carol"), "/incident", "report", channel=channel.id)
        await harness.settle()
        assert not shared_files(harness, channel.id)
    dms = fake.dms_to(harness.user("carol"))
    assert sum("not a member" in fake.text_of(m) for m in dms) == 2
    copies = [fake.file_content(m["files"][0]["id"]) for m in dms if m.get("files")]
    assert len(copies) == 2
    for copy in copies:
        assert copy is not None
        check_document(copy.decode("utf-8"))

    # A period with nothing in it, and a period people cannot type.
    await run(harness, "bob", "C0GENERAL", "report until 2001-01-01")
    assert "- Incidents: **0**" in shared_files(harness, "general")[-1]
    bad = await harness.slack.command(harness.user("bob"), "/incident", "report since yesterday",
                                      channel="C0GENERAL")
    assert "is not a date like 2026-01-31" in fake.text_of(bad.json)
    await harness.settle()
    assert len(shared_files(harness, "general")) == 2


def irbot_report(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "irbot", "report", *args],
                          env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


async def test_report_from_the_cli(timed, database_url: str) -> None:  # noqa: ANN001
    harness, clock = timed
    await play_incidents(harness, clock)
    await harness.stop_app()
    # The fake clock ran a few hours ahead of the real one: end the period the day after tomorrow.
    until = (clock.now + timedelta(days=2)).date().isoformat()
    since = (clock.now - timedelta(days=1)).date().isoformat()
    result = irbot_report(database_url, "--since", since, "--until", until, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = {(r["group_by"], r["group"]): r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == [("severity", "SEV-1"), ("severity", "SEV-2"), ("severity", "SEV-3"),
                          ("type", "outage"), ("type", "security"), ("all", "all")]
    sev1, outage, total = rows[("severity", "SEV-1")], rows[("type", "outage")], rows[("all", "all")]
    assert (sev1["count"], sev1["detect_median_seconds"], sev1["acknowledge_mean_seconds"],
            sev1["acknowledge_median_seconds"], sev1["mitigate_median_seconds"], sev1["resolve_median_seconds"]) \
        == ("2", "1200", "210", "210", "1800", "3600")
    assert (outage["count"], outage["acknowledge_mean_seconds"], outage["acknowledge_median_seconds"],
            outage["resolve_mean_seconds"], outage["actions_due"], outage["actions_completed"]) \
        == ("3", "460", "480", "5400", "3", "1")
    assert (total["count"], total["acknowledge_mean_seconds"], total["acknowledge_median_seconds"],
            total["recurring"]) == ("4", "375", "390", "3")
    assert "Leaked" not in result.stdout and "Hidden" not in result.stdout

    markdown = irbot_report(database_url, "--until", until)
    assert markdown.returncode == 0, markdown.stderr
    check_document(markdown.stdout)
    empty = irbot_report(database_url, "--until", since)
    assert empty.returncode == 0 and "- Incidents: **0**" in empty.stdout

    for bad in (["--since", "2026-02-30"], ["--since", "last week"], ["--since", until, "--until", since]):
        refused = irbot_report(database_url, *bad)
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith("irbot: report: ") and refused.stdout == ""
