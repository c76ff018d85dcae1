"""Status updates, severity changes, resolution and reminders."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from irbot.fakeslack.harness import FakeClock, Harness


async def submit_update(harness: Harness, who: str, channel: str, values: dict[str, str]) -> str:
    person = harness.user(who)
    await harness.slack.command(person, "/incident", "update", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(person)
    assert view is not None and view["title"]["text"] == "Post an update"
    await harness.slack.submit_view(person, view["id"], values)
    await harness.settle()
    return view["id"]


async def take_command(harness: Harness, who: str, channel: str) -> None:
    await harness.slack.command(harness.user(who), "/incident", f"assign commander <@{harness.user(who).id}>",
                                channel=channel)
    await harness.settle()


def thread_texts(harness: Harness) -> list[str]:
    fake = harness.fake
    [announcement] = [m for m in fake.messages("incidents", include_threads=False) if m.get("bot_id")]
    return [fake.text_of(m) for m in fake.thread("incidents", announcement["ts"])[1:]]


async def test_update_reaches_channel_stakeholders_card_and_topic(harness: Harness) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await submit_update(harness, "alice", channel.id, {"Status": "Mitigating", "What changed": "Rolled back v42"})
    assert any("Rolled back v42" in t and "Mitigating" in t for t in harness.bot_messages(channel.id))
    assert any("Rolled back v42" in t for t in thread_texts(harness))
    assert "*Status*\nMitigating" in harness.card(channel.id)
    assert "Mitigating" in harness.fake.topic(channel.id)


async def test_anyone_may_post_an_update_but_only_the_commander_changes_status(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Slow search")
    await take_command(harness, "alice", channel.id)
    await fake.join(harness.user("bob"), channel.id)
    view_id = await submit_update(harness, "bob", channel.id, {"Status": "Monitoring", "What changed": "x"})
    errors = harness.slack.view_errors(view_id)
    assert "Only the Incident Commander" in errors["update.status"]
    await harness.slack.submit_view(harness.user("bob"), view_id, {"Status": "Investigating",
                                                                   "What changed": "Found the slow query"})
    await harness.settle()
    assert any("Found the slow query" in t for t in harness.bot_messages(channel.id))
    answer = await harness.slack.command(harness.user("bob"), "/incident", "status monitoring", channel=channel.id)
    assert "Only the Incident Commander" in fake.text_of(answer.json)


async def test_status_command_and_invalid_transitions(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Queue lag")
    answer = await harness.slack.command(alice, "/incident", "status closed", channel=channel.id)
    assert "Only a resolved incident can be closed" in fake.text_of(answer.json)
    answer = await harness.slack.command(alice, "/incident", "status sleeping", channel=channel.id)
    assert "`mitigating`" in fake.text_of(answer.json)
    await harness.slack.command(alice, "/incident", "status monitoring", channel=channel.id)
    await harness.settle()
    assert "*Status*\nMonitoring" in harness.card(channel.id)
    assert any("from Investigating to *Monitoring*" in t for t in harness.bot_messages(channel.id))


@pytest.fixture
def irbot_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "irbot.toml"
    config.write_text('escalation_usergroup = "S0ONCALL"\n', encoding="utf-8")
    return {"IRBOT_CONFIG": str(config)}


async def test_severity_upgrade_mentions_the_escalation_group(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Partial outage", values={"Severity": "SEV-3"})
    await harness.slack.command(alice, "/incident", "severity 1", channel=channel.id)
    await harness.settle()
    assert "*Severity*\nSEV-1 · Critical" in harness.card(channel.id)
    assert any("<!subteam^S0ONCALL>" in t for t in harness.bot_messages(channel.id))
    assert fake.topic(channel.id).startswith("SEV-1")
    ts = harness.pinned(channel.id)[0]["ts"]
    await harness.slack.select_option(alice, channel.id, ts, "incident.severity.change", "SEV-4")
    await harness.settle()
    assert "*Severity*\nSEV-4 · Low" in harness.card(channel.id)
    downgrade = harness.bot_messages(channel.id)[-1]
    assert "to *SEV-4" in downgrade and "subteam" not in downgrade


async def test_bystander_cannot_change_severity_from_the_card(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Cert expiry")
    await take_command(harness, "alice", channel.id)
    await fake.join(bob, channel.id)
    await harness.slack.select_option(bob, channel.id, harness.pinned(channel.id)[0]["ts"],
                                      "incident.severity.change", "SEV-1")
    await harness.settle()
    assert "*Severity*\nSEV-3 · Medium" in harness.card(channel.id)
    assert "Only the Incident Commander" in fake.text_of(fake.ephemerals(user=bob)[-1])


async def test_resolve_asks_for_a_summary_and_tells_everyone(harness: Harness) -> None:
    alice = harness.user("alice")
    channel = await harness.declare("alice", "API latency")
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view["title"]["text"] == "Resolve the incident"
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Scaled the pool"})
    await harness.settle()
    assert any("is resolved" in t and "Scaled the pool" in t for t in harness.bot_messages(channel.id))
    assert any("is resolved" in t for t in thread_texts(harness))
    card = harness.card(channel.id)
    assert "*Status*\nResolved" in card and "Take Incident Commander" not in card
    answer = await harness.slack.command(alice, "/incident", "status resolved", channel=channel.id)
    assert "already resolved" in harness.fake.text_of(answer.json)


# --- reminders, with a clock the test moves --------------------------------------------------------

@pytest.fixture
async def timed(start_harness) -> tuple[Harness, FakeClock]:  # noqa: ANN001 - conftest's factory
    clock = FakeClock()
    return await start_harness(settings='escalation_usergroup = "S0ONCALL"\n', clock=clock), clock

def reminders(harness: Harness, channel: str) -> list[str]:
    return [t for t in harness.bot_messages(channel) if "update on" in t and "is due" in t]


async def test_update_reminder_mentions_the_declarer_then_the_commander(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice, bob = harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Payments down", values={"Severity": "SEV-1"})
    clock.advance(timedelta(minutes=29))
    await harness.fire_due_reminders()
    assert reminders(harness, channel.id) == []
    clock.advance(timedelta(minutes=2))
    await harness.fire_due_reminders()
    assert len(reminders(harness, channel.id)) == 1 and f"<@{alice.id}>" in reminders(harness, channel.id)[0]
    posted = len(harness.bot_messages(channel.id))
    assert await harness.fire_due_reminders() == 0, "a reminder fires once"
    assert len(harness.bot_messages(channel.id)) == posted
    await harness.fake.join(bob, channel.id)
    await take_command(harness, "bob", channel.id)
    clock.advance(timedelta(minutes=31))
    await harness.fire_due_reminders()
    assert len(reminders(harness, channel.id)) == 2 and f"<@{bob.id}>" in reminders(harness, channel.id)[1]


async def test_an_update_resets_the_reminder_clock(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    channel = await harness.declare("alice", "Payments down", values={"Severity": "SEV-1"})
    clock.advance(timedelta(minutes=25))
    await submit_update(harness, "alice", channel.id, {"What changed": "Found it"})
    clock.advance(timedelta(minutes=10))
    await harness.fire_due_reminders()
    assert reminders(harness, channel.id) == []
    clock.advance(timedelta(minutes=21))
    await harness.fire_due_reminders()
    assert len(reminders(harness, channel.id)) == 1


async def test_missed_response_target_tells_the_escalation_group(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    channel = await harness.declare("alice", "Breach suspected", values={"Severity": "SEV-1"})
    clock.advance(timedelta(minutes=16))
    await harness.fire_due_reminders()
    [warning] = [t for t in harness.bot_messages(channel.id) if "has no Incident Commander" in t]
    assert "<!subteam^S0ONCALL>" in warning


async def test_reminders_missed_while_down_fire_once_at_start_up(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    channel = await harness.declare("alice", "Payments down", values={"Severity": "SEV-1"})
    await take_command(harness, "alice", channel.id)
    await harness.stop_app()
    clock.advance(timedelta(hours=3))  # six cadences pass while irbot is down
    await harness.start_app()
    await harness.settle()
    assert len(reminders(harness, channel.id)) == 1
    assert await harness.fire_due_reminders() == 0
    clock.advance(timedelta(minutes=31))
    await harness.fire_due_reminders()
    assert len(reminders(harness, channel.id)) == 2


async def test_start_up_answers_slack_while_missed_reminders_are_still_being_fired(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    channels = [await harness.declare("alice", f"Outage {n}", values={"Severity": "SEV-1"}) for n in range(3)]
    for channel in channels:
        await take_command(harness, "alice", channel.id)
    await harness.stop_app()
    clock.advance(timedelta(hours=3))
    # Slack answers every post late: were start-up to wait for the catch-up, it would return only
    # once the posts had landed.
    harness.fake.fail_next("chat.postMessage", delay=2.0, times=100)
    await harness.start_app()
    answer = await harness.slack.command(harness.user("bob"), "/incident", "help")
    assert answer.status == 200 and "declare [title]" in harness.fake.text_of(answer.json)
    assert harness.irbot.deps.tasks.pending > 0, "the catch-up is still running"
    assert all(reminders(harness, channel.id) == [] for channel in channels)
    await harness.settle()
    harness.fake.faults.clear()
    assert all(len(reminders(harness, channel.id)) == 1 for channel in channels), "each caught up once"
    assert await harness.fire_due_reminders() == 0


async def test_no_reminders_after_resolution_then_review_and_postmortem_due(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Payments down", values={"Severity": "SEV-1"})
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Fixed"})
    await harness.settle()
    clock.advance(timedelta(hours=2))
    await harness.fire_due_reminders()
    assert reminders(harness, channel.id) == []
    assert not [t for t in harness.bot_messages(channel.id) if "has no Incident Commander" in t]
    clock.advance(timedelta(hours=23))
    await harness.fire_due_reminders()
    assert any("lessons-learned review" in t for t in harness.bot_messages(channel.id))
    clock.advance(timedelta(days=8))
    await harness.fire_due_reminders()
    assert any("post-mortem for *INC-1* is due" in t for t in harness.bot_messages(channel.id))


# --- the real scheduler, end to end ----------------------------------------------------------------

@pytest.fixture
async def quick(start_harness) -> Harness:  # noqa: ANN001 - conftest's factory
    return await start_harness(settings='[[severities]]\nkey = "SEV-1"\nupdate_every = "2s"\n'
                                        '[[severities]]\nkey = "SEV-2"\n[[severities]]\nkey = "SEV-3"\n'
                                        '[[severities]]\nkey = "SEV-4"\n')

async def test_real_scheduler_reminds_every_cadence_and_the_button_opens_the_form(quick: Harness) -> None:
    harness, alice = quick, quick.user("alice")
    channel = await harness.declare("alice", "Flapping", values={"Severity": "SEV-1"})
    for _ in range(60):
        if reminders(harness, channel.id):
            break
        await asyncio.sleep(0.1)
    await harness.settle()
    assert len(reminders(harness, channel.id)) == 1
    reminder = [m for m in harness.fake.messages(channel.id) if "is due" in harness.fake.text_of(m)][0]
    await harness.slack.click(alice, channel.id, reminder["ts"], "Post an update")
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None and view["title"]["text"] == "Post an update"
    await harness.slack.submit_view(alice, view["id"], {"What changed": "Stable now"})
    await harness.settle()
    await asyncio.sleep(1.0)
    assert len(reminders(harness, channel.id)) == 1, "the update reset the clock"
    await asyncio.sleep(1.6)
    await harness.settle()
    assert len(reminders(harness, channel.id)) == 2
