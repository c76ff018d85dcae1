"""The Slack side of a committed change is owed until Slack has it: refused now, delivered later, once.

(A process killed with work owed: tests/process/test_crashes.py.)
"""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import select

from irbot.services.outbox import MAX_ATTEMPTS
from irbot.store.models import OutboxItem
from irbot.fakeslack.harness import FakeClock, Harness


@pytest.fixture
async def timed(start_harness) -> tuple[Harness, FakeClock]:  # noqa: ANN001 - conftest's factory
    clock = FakeClock()
    return await start_harness(clock=clock), clock


async def _commanded_incident(harness: Harness) -> str:
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Outbox trouble")
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=channel.id)
    await harness.settle()
    return channel.id


def _told(harness: Harness, channel: str, words: str) -> int:
    return sum(words in text for text in harness.bot_messages(channel))


async def test_a_status_change_slack_refused_is_told_later_once(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await _commanded_incident(harness)
    harness.fake.fail_next("chat.postMessage", error="internal_error")
    response = await harness.slack.command(alice, "/incident", "status mitigating", channel=channel)
    await harness.settle()
    assert response.status == 200
    assert _told(harness, channel, "changed the status") == 0, "Slack refused the channel message"
    await harness.deliver_owed()
    assert _told(harness, channel, "changed the status") == 0, "not before the back-off"
    clock.advance(timedelta(seconds=6))
    await harness.deliver_owed()
    assert _told(harness, channel, "changed the status") == 1
    assert "*Status*\nMitigating" in harness.card(channel), "then the card is redrawn"
    clock.advance(timedelta(minutes=5))
    await harness.deliver_owed()
    assert _told(harness, channel, "changed the status") == 1, "delivered once"


async def test_an_invite_slack_refuses_does_not_hold_up_the_announcement(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Guests")
    await fake.join(bob, channel.id)
    fake.fail_next("conversations.invite", error="user_is_restricted")
    await harness.slack.click(bob, channel.id, harness.pinned(channel.id)[0]["ts"], "Take Incident Commander")
    await harness.settle()
    assert _told(harness, channel.id, f"<@{bob.id}> is now *Incident Commander*") == 1
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    assert any("Incident Commander" in fake.text_of(m) for m in fake.dms_to(bob)), "and bob is briefed"


async def test_slack_refusing_for_good_is_given_up_and_logged(timed, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await _commanded_incident(harness)
    caplog.set_level(logging.WARNING)
    harness.fake.fail_next("chat.postMessage", error="internal_error", times=MAX_ATTEMPTS + 5)
    await harness.slack.command(alice, "/incident", "status mitigating", channel=channel)
    await harness.settle()
    for _ in range(MAX_ATTEMPTS + 3):
        clock.advance(timedelta(minutes=10))
        await harness.deliver_owed()
    attempts = len([args for _, args, *_ in harness.fake.calls_to("chat.postMessage")
                    if args.get("channel") == channel and "changed the status" in str(args.get("text"))])
    assert attempts == MAX_ATTEMPTS, "tried with back-off, then stopped"
    gave_up = [r for r in caplog.records if r.levelno == logging.ERROR and "gave up" in r.getMessage()]
    assert len(gave_up) == 1 and "INC-1" in gave_up[0].getMessage() and "internal_error" in gave_up[0].getMessage()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{harness.irbot.port}/metrics") as response:
            metrics = await response.text()
    assert 'irbot_outbox_items{state="failed"} 1.0' in metrics, "operators can alert on it"
    assert 'irbot_outbox_items{state="pending"} 0.0' in metrics


async def test_delivered_work_is_forgotten_after_a_week_given_up_work_is_kept(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await _commanded_incident(harness)  # owes (and delivers) the role change
    harness.fake.fail_next("chat.postMessage", error="internal_error", times=MAX_ATTEMPTS)
    await harness.slack.command(alice, "/incident", "status mitigating", channel=channel)
    await harness.settle()
    for _ in range(MAX_ATTEMPTS):
        clock.advance(timedelta(minutes=10))
        await harness.deliver_owed()
    deps = harness.irbot.deps

    async def states() -> list[str]:
        async with deps.db.reader() as session:
            return sorted((await session.execute(select(OutboxItem.state))).scalars().all())

    assert await states() == ["done", "done", "failed"], "the set-up and the role change delivered"
    async with deps.db.reader() as session:
        kept = dict((await session.execute(select(OutboxItem.state, OutboxItem.steps))).all())
    assert kept["done"] == [] and "Mitigating" in str(kept["failed"]), "what people wrote is not kept once delivered"
    clock.advance(timedelta(days=8))
    await harness.irbot.heartbeat.beat()
    assert await states() == ["failed"]


async def test_a_post_whose_record_was_lost_is_not_posted_again(timed, monkeypatch) -> None:  # noqa: ANN001
    """The channel was told, then recording that failed (as if the process died right after the post):
    the retry finds the message in Slack by its metadata instead of telling the channel twice."""
    from irbot.store import repo
    harness, clock = timed
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Lost bookkeeping")
    await fake.join(bob, channel.id)
    real_step_done, failed = repo.outbox_step_done, []

    async def fail_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not failed:
            failed.append(args)
            raise OSError("database unreachable")
        return await real_step_done(*args, **kwargs)

    monkeypatch.setattr(repo, "outbox_step_done", fail_once)
    await harness.slack.click(bob, channel.id, harness.pinned(channel.id)[0]["ts"], "Take Incident Commander")
    await harness.settle()
    told = f"<@{bob.id}> is now *Incident Commander*"
    assert failed and _told(harness, channel.id, told) == 1
    clock.advance(timedelta(seconds=6))  # the dead worker's lease lapses
    await harness.deliver_owed()
    assert _told(harness, channel.id, told) == 1, "not told twice"
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id), "and the rest of the work was done"


async def test_a_post_slack_made_but_whose_answer_was_lost_is_not_made_twice(harness: Harness) -> None:
    """The connection drops after Slack has posted the message: the retry finds it by its metadata."""
    alice = harness.user("alice")
    channel = await _commanded_incident(harness)
    harness.fake.fail_next("chat.postMessage", answer_lost=True)
    await harness.slack.command(alice, "/incident", "status mitigating", channel=channel)
    await harness.settle()
    assert _told(harness, channel, "changed the status") == 1
    assert "*Status*\nMitigating" in harness.card(channel)
