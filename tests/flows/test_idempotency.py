"""Each repeat has one effect: Slack's retries, double clicks, forms submitted twice, replays."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from irbot.store.models import Delivery, TimelineEvent
from irbot.fakeslack.harness import Harness


async def count_events(harness: Harness, kind: str) -> int:
    async with harness.irbot.deps.db.session() as session:
        query = select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == kind)
        return (await session.execute(query)).scalar_one()


async def test_event_retries_sent_concurrently_store_the_message_once(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Retry storm")
    await fake.say(harness.user("alice"), channel.id, "only once please")
    await harness.settle()
    envelope = [e for e in fake.delivered_events if e["event"].get("text") == "only once please"][0]
    statuses = await asyncio.gather(*(fake.redeliver(envelope["event_id"]) for _ in range(4)))
    await harness.settle()
    assert all(status == 200 for status in statuses)
    assert await count_events(harness, "message") == 1


async def test_a_replayed_command_has_one_effect(harness: Harness) -> None:
    channel = await harness.declare("alice", "Replay")
    async with harness.slack.duplicated(3):
        await harness.slack.command(harness.user("alice"), "/incident", "note Replayed once", channel=channel.id)
    await harness.settle()
    assert await count_events(harness, "note") == 1


async def test_a_double_clicked_button_has_one_effect(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Double click")
    await fake.join(bob, channel.id)
    async with harness.slack.duplicated(2):
        await harness.slack.click(bob, channel.id, harness.pinned(channel.id)[0]["ts"], "Take Technical Lead")
    await harness.settle()
    assert await count_events(harness, "role_changed") == 1
    assert len([t for t in harness.bot_messages(channel.id) if "is now *Technical Lead*" in t]) == 1


async def test_update_and_resolve_forms_submitted_twice_post_once(harness: Harness) -> None:
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Twice")
    await harness.slack.command(alice, "/incident", "update", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    async with harness.slack.duplicated(2):
        await harness.slack.submit_view(alice, view["id"], {"What changed": "Posted once"})
    await harness.settle()
    assert len([t for t in harness.bot_messages(channel.id) if "Posted once" in t]) == 1

    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    async with harness.slack.duplicated(2):
        await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Done"})
    await harness.settle()
    assert len([t for t in harness.bot_messages(channel.id) if "is resolved" in t]) == 1
    assert await count_events(harness, "status_changed") == 1


async def test_commands_that_only_answer_write_nothing_before_their_ack(harness: Harness) -> None:
    """A burst of `/incident help` must not queue on the database's writer: no delivery claim for
    subcommands that store nothing (a repeat of one only answers again)."""
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Read only")

    async def claims() -> int:
        async with harness.irbot.deps.db.reader() as session:
            return (await session.execute(select(func.count()).select_from(Delivery))).scalar_one()

    before = await claims()
    for text in ("help", "", "list", "roles", "timeline"):
        response = await harness.slack.command(alice, "/incident", text, channel=channel.id)
        assert response.status == 200
    await harness.settle()
    assert await claims() == before, "nothing claimed for answers"
    await harness.slack.command(alice, "/incident", "note Stored, so claimed", channel=channel.id)
    await harness.settle()
    assert await claims() == before + 1, "a command that stores something is still claimed"
