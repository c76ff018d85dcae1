"""Severity assessment, playbooks, stakeholder summaries and drills, through the fake Slack."""

from __future__ import annotations

from datetime import timedelta

import pytest

from irbot.fakeslack.harness import FakeClock, Harness

FACTORS = ("Business impact", "System scope", "User impact", "Security risk")
LEVEL_NAMES = {1: "1 · Low", 2: "2 · Medium", 3: "3 · High", 4: "4 · Critical"}


async def run_assessment(harness: Harness, who: str, channel: str, scores: tuple[int, int, int, int]) -> dict:
    person = harness.user(who)
    await harness.slack.command(person, "/incident", "assess", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(person)
    assert view["title"]["text"] == "Assess severity"
    await harness.slack.submit_view(person, view["id"], {f: LEVEL_NAMES[s] for f, s in zip(FACTORS, scores)})
    return harness.slack.open_view(person)


def view_text(harness: Harness, view: dict) -> str:
    return harness.fake.text_of({"blocks": view["blocks"]})


@pytest.mark.parametrize("scores, level", [((4, 4, 3, 2), "SEV-1"), ((4, 3, 3, 1), "SEV-2"),
                                           ((2, 1, 1, 1), "SEV-4"), ((1, 1, 1, 4), "SEV-1")])
async def test_assessment_suggests_a_level_and_says_why(harness: Harness, scores: tuple, level: str) -> None:
    result = await run_assessment(harness, "alice", "general", scores)
    text = view_text(harness, result)
    assert f"suggested *{level}*" in text and "Business impact" in text
    if scores == (1, 1, 1, 4):
        assert "security risk of 4" in text
    assert f"[Declare as {level}]" in text


async def test_declare_with_the_suggested_severity(harness: Harness) -> None:
    alice = harness.user("alice")
    result = await run_assessment(harness, "alice", "general", (4, 4, 3, 2))
    await harness.slack.click_in_view(alice, result["id"], "Declare as SEV-1")
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view["title"]["text"] == "Declare an incident"
    severity = next(b for b in view["blocks"] if b.get("block_id") == "declare.severity")
    assert severity["element"]["initial_option"]["value"] == "SEV-1"
    await harness.slack.submit_view(alice, view["id"], {"Title": "Assessed outage"})
    await harness.settle()
    [channel] = harness.incident_channels()
    assert "*Severity*\nSEV-1 · Critical" in harness.card(channel)


async def test_commander_applies_the_suggestion_and_a_bystander_cannot(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Needs a level", values={"Severity": "SEV-3"})
    await fake.join(bob, channel.id)
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=channel.id)
    result = await run_assessment(harness, "bob", channel.id, (4, 3, 3, 1))
    await harness.slack.click_in_view(bob, result["id"], "Apply SEV-2")
    await harness.settle()
    assert "Only the Incident Commander" in view_text(harness, harness.slack.open_view(bob))
    assert "*Severity*\nSEV-3" in harness.card(channel.id)
    result = await run_assessment(harness, "alice", channel.id, (4, 3, 3, 1))
    await harness.slack.click_in_view(alice, result["id"], "Apply SEV-2")
    await harness.settle()
    assert "Applied" in view_text(harness, harness.slack.open_view(alice))
    assert "*Severity*\nSEV-2 · High" in harness.card(channel.id)
    assert any("assessment: business 4, scope 3, users 3, security 1" in t or "to *SEV-2" in t
               for t in harness.bot_messages(channel.id))


async def test_playbook_is_posted_and_ticked_once(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Site down", values={"Incident type": "Outage"})
    [checklist] = [m for m in fake.messages(channel.id) if "First steps" in fake.text_of(m)]
    assert "Restart affected services" in fake.text_of(checklist)
    await fake.join(bob, channel.id)
    await harness.slack.click(bob, channel.id, checklist["ts"], action_id="incident.playbook.tick")
    await harness.settle()
    text = fake.text_of(fake.message(channel.id, checklist["ts"]))
    assert f"<@{bob.id}>" in text and ":white_check_mark:" in text
    # The ticked step lost its button; the next click ticks the next step.
    await harness.slack.click(alice, channel.id, checklist["ts"], action_id="incident.playbook.tick")
    await harness.settle()
    text = fake.text_of(fake.message(channel.id, checklist["ts"]))
    assert text.count(":white_check_mark:") == 2
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    shared = [m for m in fake.messages(channel.id) if m.get("files")][-1]
    document = fake.file_content(shared["files"][0]["id"]).decode()
    assert "## Containment checklist" in document and "(done by bob" in document and "(not done)" in document


async def test_double_tick_of_the_same_step_changes_nothing(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Site down", values={"Incident type": "Outage"})
    [checklist] = [m for m in fake.messages(channel.id) if "First steps" in fake.text_of(m)]
    await fake.join(bob, channel.id)
    first_button = checklist["blocks"][1]["accessory"]
    async with harness.slack.duplicated(2):
        await harness.slack.click(bob, channel.id, checklist["ts"], action_id=first_button["action_id"])
    await harness.settle()
    updated = fake.message(channel.id, checklist["ts"])
    assert fake.text_of(updated).count(":white_check_mark:") == 1
    updates = [c for c in fake.calls_to("chat.update") if c[1].get("ts") == checklist["ts"]]
    assert len(updates) == 1


# --- stakeholder summaries ------------------------------------------------------------------------

@pytest.fixture
async def timed(start_harness) -> tuple[Harness, FakeClock]:  # noqa: ANN001 - conftest's factory
    clock = FakeClock()
    return await start_harness(settings='escalation_usergroup = "S0ONCALL"\n', clock=clock), clock

def summaries(harness: Harness, channel: str) -> list[str]:
    return [harness.fake.text_of(m) for m in harness.fake.messages(channel) if "*Summary of" in harness.fake.text_of(m)]


async def test_stakeholder_summaries_every_hour_across_a_restart_until_resolved(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Payments slow", values={"Severity": "SEV-1"})
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=channel.id)
    await harness.settle()
    clock.advance(timedelta(minutes=61))
    await harness.fire_due_reminders()
    [first] = summaries(harness, "incidents")
    assert "SEV-1" in first and f"<@{alice.id}>" in first and "Investigating" in first
    assert summaries(harness, channel.id) == []
    await harness.stop_app()
    clock.advance(timedelta(minutes=61))
    await harness.start_app()
    await harness.settle()
    assert len(summaries(harness, "incidents")) == 2
    assert await harness.fire_due_reminders() == 0
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "done"})
    await harness.settle()
    clock.advance(timedelta(hours=5))
    await harness.fire_due_reminders()
    assert len(summaries(harness, "incidents")) == 2


async def test_private_incident_summaries_stay_in_its_channel(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    channel = await harness.declare("alice", "Token leak", values={"Incident type": "Security",
                                                                   "Severity": "SEV-1"})
    clock.advance(timedelta(minutes=61))
    await harness.fire_due_reminders()
    assert summaries(harness, "incidents") == []
    assert len(summaries(harness, channel.id)) == 1
    assert not [m for m in harness.fake.messages("incidents") if m.get("bot_id")]


# --- drills ---------------------------------------------------------------------------------------

async def test_drill_is_marked_everywhere_and_never_escalates(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    fake, alice = harness.fake, harness.user("alice")
    await harness.slack.command(alice, "/incident", "drill Failover practice")
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view["title"]["text"] == "Declare a drill"
    await harness.slack.submit_view(alice, view["id"], {"Severity": "SEV-2"})
    await harness.settle()
    [channel_id] = harness.incident_channels()
    channel = fake.channel(channel_id)
    assert channel.name == "drill-1-failover-practice"
    assert "[DRILL] INC-1" in harness.card(channel_id) and "This is a drill" in harness.card(channel_id)
    [announcement] = [m for m in fake.messages("incidents") if m.get("bot_id")]
    assert "DRILL" in fake.text_of(announcement)
    assert fake.topic(channel_id).startswith("[DRILL]")
    await harness.slack.command(alice, "/incident", "severity 1", channel=channel_id)
    await harness.settle()
    clock.advance(timedelta(minutes=20))
    await harness.fire_due_reminders()
    for text in harness.bot_messages(channel_id):
        assert "subteam" not in text
        assert "DRILL" in text, f"not marked as a drill: {text[:80]}"
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel_id)
    await harness.settle()
    shared = [m for m in fake.messages(channel_id) if m.get("files")][-1]
    assert fake.file_content(shared["files"][0]["id"]).decode().startswith("# [DRILL] Post-mortem")


async def test_drill_can_be_chosen_in_the_declare_form(harness: Harness) -> None:
    channel = await harness.declare("alice", "Game day", values={"Options": ["This is a drill"]})
    assert channel.name == "drill-1-game-day"
