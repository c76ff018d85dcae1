"""The one engine for owed work, as people meet it: a click while the declare is still being built
in Slack updates the card as soon as the set-up is done, without waiting for any lease or sweep."""

from __future__ import annotations

import asyncio

from irbot.fakeslack.harness import Harness


async def _card_ts(harness: Harness, channel_name: str) -> tuple[str, str]:
    """Wait until the set-up has posted the card (it may still be pinning, announcing …)."""
    fake = harness.fake
    for _ in range(200):
        for channel in fake.channels.values():
            if channel.name == channel_name:
                cards = [m for m in fake.messages(channel.id) if m.get("bot_id") and "Take" in str(m.get("blocks"))]
                if cards:
                    return channel.id, cards[0]["ts"]
        await asyncio.sleep(0.01)
    raise AssertionError("the card was never posted")


async def test_a_click_while_the_set_up_runs_is_delivered_when_it_ends_not_by_the_sweep(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    await harness.irbot.outbox.stop()  # no sweep: only the set-up's own hand-over may deliver the click's work
    fake.fail_next("pins.add", delay=1.0)  # the set-up is still running when bob clicks
    await harness.slack.command(alice, "/incident", "declare Early click")
    await harness.settle()
    view = harness.slack.open_view(alice)
    submitted = asyncio.ensure_future(harness.slack.submit_view(alice, view["id"], {}))
    channel, card_ts = await _card_ts(harness, "inc-1-early-click")
    assert not fake.pins(channel), "the set-up has not finished"
    await fake.join(bob, channel)
    response = await harness.slack.click(bob, channel, card_ts, "Take Incident Commander")
    assert response.status == 200
    await submitted
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel), "the card shows bob"
    assert "IC: unassigned" not in fake.topic(channel), "the topic names the commander"
    told = [t for t in harness.bot_messages(channel) if f"<@{bob.id}> is now *Incident Commander*" in t]
    assert len(told) == 1, "the channel is told once"


async def test_the_declarer_is_invited_no_later_than_the_card_is_posted(harness: Harness) -> None:
    """People first: the invite goes out with the card, right after the channel exists."""
    channel = await harness.declare("alice", "People first")
    calls = [(method, args) for method, args, *_ in harness.fake.calls if method in (
        "conversations.create", "conversations.invite", "chat.postMessage", "pins.add")]
    order = [method for method, _ in calls]
    assert order[0] == "conversations.create"
    assert order.index("conversations.invite") < order.index("pins.add"), order
    assert harness.user("alice").id in channel.members
