"""``/incident followups`` and the overdue digest (one DM a business day at 09:00, never twice)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from irbot.fakeslack.harness import FakeClock, Harness
from irbot.services.overdue import send_overdue_digests

MONDAY_0830 = datetime(2030, 1, 7, 8, 30, tzinfo=timezone.utc)


def dms(harness: Harness, who: str) -> list[str]:
    user = harness.user(who).id
    return [harness.fake.text_of(m) for c in harness.fake.channels.values() if c.is_im and user in c.members
            for m in harness.fake.messages(c.id) if m.get("bot_id")]


async def add(harness: Harness, channel: str, text: str) -> None:
    await harness.slack.command(harness.user("alice"), "/incident", f"action add {text}", channel=channel)
    await harness.settle()


async def test_followups_lists_open_items_the_person_can_see(start_harness) -> None:  # noqa: ANN001
    harness = await start_harness()
    public = await harness.declare("alice", "Checkout errors")
    secret = await harness.declare("alice", "Keys leaked", values={"Incident type": "Data"})
    await add(harness, public.id, "Tune the alerts <@U0BOB> due 2001-01-01")
    await add(harness, public.id, "Already done")
    await harness.slack.command(harness.user("alice"), "/incident", "action done 2", channel=public.id)
    await add(harness, secret.id, "Rotate the leaked keys")
    await harness.settle()
    bob = await harness.slack.command(harness.user("bob"), "/incident", "followups", channel="general")
    text = harness.fake.text_of(bob.json)
    assert "Tune the alerts" in text and "overdue" in text
    assert "Already done" not in text and "Rotate the leaked keys" not in text
    alice = await harness.slack.command(harness.user("alice"), "/incident", "followups", channel="general")
    assert "Rotate the leaked keys" in harness.fake.text_of(alice.json)


async def test_one_overdue_digest_per_owner_per_business_day(start_harness) -> None:  # noqa: ANN001
    clock = FakeClock(MONDAY_0830 - timedelta(days=3))  # a Friday: declared then
    harness = await start_harness(clock=clock)
    channel = await harness.declare("alice", "Checkout errors")
    await add(harness, channel.id, "Tune the alerts <@U0BOB> due 2030-01-04")  # Friday
    await add(harness, channel.id, "Write the runbook <@U0BOB> due 2030-01-06")  # Sunday
    await add(harness, channel.id, "Not due yet <@U0BOB> due 2030-02-01")
    await add(harness, channel.id, "Carol's <@U0CAROL> due 2030-01-02")
    clock.now = MONDAY_0830 - timedelta(days=1)  # Sunday 08:30: no digest at weekends
    clock.advance(timedelta(hours=3))
    assert await send_overdue_digests(harness.irbot.deps) == 0
    clock.now = MONDAY_0830
    assert await send_overdue_digests(harness.irbot.deps) == 0  # before 09:00
    clock.advance(timedelta(minutes=31))
    assert await send_overdue_digests(harness.irbot.deps) == 2  # bob and carol
    assert await send_overdue_digests(harness.irbot.deps) == 0  # once a day
    await harness.stop_app()
    await harness.start_app()  # a restart does not send it again
    assert await send_overdue_digests(harness.irbot.deps) == 0
    [digest] = dms(harness, "bob")
    assert "Tune the alerts" in digest and "Write the runbook" in digest and "Not due yet" not in digest
    clock.advance(timedelta(days=1))  # Tuesday
    assert await send_overdue_digests(harness.irbot.deps) == 2
