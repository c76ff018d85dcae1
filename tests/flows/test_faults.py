"""Slack misbehaving: 429 with Retry-After, 500/503, dropped connections, slow answers.

Every flow either completes or tells the person what failed; nothing is left half made.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from irbot.fakeslack.harness import Harness

FAULTS = [
    pytest.param({"status": 429, "retry_after": 1}, id="429"),
    pytest.param({"status": 503}, id="503"),
    pytest.param({"status": 500}, id="500"),
    pytest.param({"drop": True}, id="dropped"),
    pytest.param({"delay": 2.5}, id="slow"),
]


QUICK_FAULTS = FAULTS[:2] + FAULTS[3:4]  # 429, 503, dropped: the slow answer is covered above


@pytest.mark.parametrize("method, fault", [
    *(pytest.param(m, f.values[0], id=f"{m}-{f.id}") for m in ("conversations.create", "chat.postMessage")
      for f in FAULTS),
    *(pytest.param(m, f.values[0], id=f"{m}-{f.id}") for m in ("pins.add", "conversations.setTopic",
                                                               "conversations.invite") for f in QUICK_FAULTS),
])
async def test_declare_completes_through_faults(harness: Harness, method: str, fault: dict) -> None:
    fake = harness.fake
    fake.fail_next(method, times=2, **fault)
    channel = await harness.declare("alice", "Flaky Slack")
    assert len(harness.incident_channels()) == 1
    assert harness.pinned(channel.id), "the card is posted and pinned"
    assert harness.user("alice").id in channel.members
    assert fake.topic(channel.id).startswith("SEV-3")
    assert [m for m in fake.messages("incidents") if m.get("bot_id")], "announced"


async def test_429_waits_as_retry_after_says(harness: Harness) -> None:
    harness.fake.fail_next("conversations.create", status=429, retry_after=2)
    started = time.monotonic()
    await harness.declare("alice", "Rate limited")
    assert time.monotonic() - started >= 2.0


async def test_a_step_that_keeps_failing_tells_the_declarer_and_finishes_later(harness: Harness,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    fake, alice = harness.fake, harness.user("alice")
    caplog.set_level(logging.ERROR)
    fake.fail_next("pins.add", error="internal_error", times=1)
    await harness.slack.command(alice, "/incident", "declare Pins broken")
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {})
    for _ in range(50):  # the declarer is told at once; the retry follows a moment later
        if fake.dms_to(alice):
            break
        await asyncio.sleep(0.05)
    told = fake.text_of(fake.dms_to(alice)[-1])
    assert "INC-1" in told and "internal_error" in told and "keep trying" in told
    # The stored incident is finished by the retry (or, after a restart, by the start-up repair).
    await harness.stop_app()
    await harness.start_app()
    await harness.settle()
    [channel] = harness.incident_channels()
    assert harness.pinned(channel), "the card was pinned after all"
    assert len(harness.incident_channels()) == 1


@pytest.mark.parametrize("fault", FAULTS)
async def test_role_update_and_resolve_complete_through_faults(harness: Harness, fault: dict) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Faulty flows")
    await fake.join(bob, channel.id)
    fake.fail_next("chat.update", times=1, **fault)
    fake.fail_next("conversations.invite", times=1, **fault)
    await harness.slack.click(bob, channel.id, harness.pinned(channel.id)[0]["ts"], "Take Incident Commander")
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    fake.fail_next("chat.postMessage", times=1, **fault)
    await harness.slack.command(bob, "/incident", "status mitigating", channel=channel.id)
    await harness.settle()
    assert "*Status*\nMitigating" in harness.card(channel.id)
    fake.fail_next("views.open", times=1, **{k: v for k, v in fault.items() if k != "delay"})
    await harness.slack.command(bob, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(bob)
    if view is None:  # views.open failed: the person was told to run it again
        assert "run the command again" in fake.text_of(fake.ephemerals(user=bob)[-1])
        await harness.slack.command(bob, "/incident", "resolve", channel=channel.id)
        await harness.settle()
        view = harness.slack.open_view(bob)
    await harness.slack.submit_view(bob, view["id"], {"Resolution summary (one line)": "Fixed"})
    await harness.settle()
    assert "*Status*\nResolved" in harness.card(channel.id)


@pytest.mark.parametrize("fault", FAULTS)
async def test_postmortem_completes_or_says_what_failed(harness: Harness, fault: dict) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Upload trouble")
    await fake.say(alice, channel.id, "a message")
    await harness.settle()
    fake.fail_next("files.completeUploadExternal", times=1, **fault)
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    shared = [m for m in fake.messages(channel.id) if m.get("files")]
    assert shared, "the post-mortem was uploaded after retrying"


async def test_slack_errors_never_leak_tokens_into_logs(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.fail_next("conversations.create", error="restricted_action", times=10)
    harness.fake.fail_next("chat.postMessage", status=503, times=3)
    await harness.slack.command(harness.user("alice"), "/incident", "declare Secrets")
    await harness.settle()
    view = harness.slack.open_view(harness.user("alice"))
    await harness.slack.submit_view(harness.user("alice"), view["id"], {})
    await harness.settle()
    text = caplog.text
    assert "restricted_action" in text
    assert "xoxb-" not in text and "irbot-test-signing-secret" not in text


async def test_a_card_slack_posted_but_whose_answer_was_lost_is_posted_once(harness: Harness) -> None:
    """The connection drops after Slack has posted the card: the retry finds it by its metadata."""
    fake = harness.fake
    fake.fail_next("chat.postMessage", answer_lost=True)
    channel = await harness.declare("alice", "Lossy network")
    cards = [m for m in fake.messages(channel.id) if m.get("bot_id") and "Incident Commander" in fake.text_of(m)]
    assert len(cards) == 1 and len(harness.pinned(channel.id)) == 1
