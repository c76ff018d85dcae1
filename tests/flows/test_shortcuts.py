"""Declaring from anywhere: the global shortcut, "Declare incident" on a message, and what the
incident keeps of that message. Over HTTP and Socket Mode, against the fake Slack."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from irbot.domain.timeline import ts_to_datetime
from irbot.fakeslack.harness import Harness
from irbot.store.models import Incident, TimelineEvent
from irbot.views.ids import Shortcut


async def stored(harness: Harness) -> list[Incident]:
    async with harness.irbot.deps.db.session() as session:
        return list((await session.execute(select(Incident).order_by(Incident.number))).scalars().all())


async def timeline(harness: Harness, incident: Incident) -> list[TimelineEvent]:
    async with harness.irbot.deps.db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id) \
            .order_by(TimelineEvent.at, TimelineEvent.seq)
        return list((await session.execute(query)).scalars().all())


async def shortcut_form(harness: Harness, who: str, channel: str, ts: str) -> dict[str, Any]:
    response = await harness.slack.message_shortcut(harness.user(who), channel, ts, Shortcut.DECLARE_FROM_MESSAGE)
    assert response.status == 200 and response.elapsed < 3
    assert not response.body.strip(), "a shortcut is acknowledged with an empty body"
    await harness.settle()
    view = harness.slack.open_view(harness.user(who))
    assert view is not None and view["title"]["text"] == "Declare an incident"
    return view


def initial(view: dict[str, Any], block_id: str) -> Any:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return block["element"].get("initial_value")


def context_text(view: dict[str, Any]) -> str:
    return "\n".join(e.get("text", "") for b in view["blocks"] if b["type"] == "context" for e in b["elements"])


async def test_global_shortcut_opens_the_declare_form(harness: Harness) -> None:
    alice = harness.user("alice")
    response = await harness.slack.global_shortcut(alice, Shortcut.DECLARE)
    assert response.status == 200 and response.elapsed < 3
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None and view["title"]["text"] == "Declare an incident"
    await harness.slack.submit_view(alice, view["id"], {"Title": "Search is down", "Severity": "SEV-2"})
    await harness.settle()
    [incident] = await stored(harness)
    assert incident.title == "Search is down" and incident.origin_ts is None
    assert harness.fake.channel_by_name("inc-1-search-is-down") is not None


async def test_declare_from_a_message_keeps_it(harness: Harness) -> None:
    fake = harness.fake
    text = "Checkout is slow for EU customers\nP95 at 4s since 10:02, payments team looking"
    ts = await fake.say("bob", "general", text)
    view = await shortcut_form(harness, "alice", "general", ts)
    assert initial(view, "declare.title") == "Checkout is slow for EU customers"
    assert initial(view, "declare.summary") == text
    assert "From a message by" in context_text(view)

    await harness.slack.submit_view(harness.user("alice"), view["id"], {"Severity": "SEV-2"})
    await harness.settle()
    [incident] = await stored(harness)
    channel = fake.channel_by_name("inc-1-checkout-is-slow-for-eu-customers")
    assert channel is not None and incident.channel_id == channel.id
    assert incident.origin_channel_id == "C0GENERAL" and incident.origin_ts == ts
    assert incident.origin_permalink and ts.replace(".", "") in incident.origin_permalink
    assert incident.origin_permalink in harness.card(channel.id), "the card links the message"

    events = await timeline(harness, incident)
    assert events[0].kind == "linked_message", "the message is the timeline's first entry"
    assert events[0].at == ts_to_datetime(ts) and events[0].actor_id == harness.user("bob").id
    assert events[0].text == text and events[0].data["permalink"] == incident.origin_permalink

    replies = [m for m in fake.thread("general", ts) if m["ts"] != ts]
    assert len(replies) == 1 and replies[0].get("bot_id")
    assert f"<#{channel.id}>" in replies[0]["text"] and "INC-1" in replies[0]["text"]

    answer = await harness.slack.command(harness.user("alice"), "/incident", "timeline", channel=channel.id)
    assert answer.status == 200
    shown = fake.text_of(fake.ephemerals("alice", channel.id)[-1])
    assert shown.index("Message by") < shown.index("Declared by"), shown


async def test_the_title_is_the_first_line_cut_at_80(harness: Harness) -> None:
    long_line = "Everything is on fire in the primary region " + "and more " * 12
    ts = await harness.fake.say("bob", "general", "\n\n" + long_line + "\nsecond line")
    view = await shortcut_form(harness, "alice", "general", ts)
    title = initial(view, "declare.title")
    assert len(title) == 80 and title.endswith("…") and title.startswith("Everything is on fire")


async def test_where_irbot_may_not_post_the_declarer_is_told(harness: Harness) -> None:
    fake = harness.fake
    people = [harness.user(n).id for n in ("alice", "bob")]
    fake.add_channel("team-payments", members=people, creator=people[0])
    ts = await fake.say("bob", "team-payments", "Refunds are failing")
    view = await shortcut_form(harness, "alice", "team-payments", ts)
    assert initial(view, "declare.title") == "Refunds are failing", "a public channel irbot is not in is readable"
    await harness.slack.submit_view(harness.user("alice"), view["id"], {})
    await harness.settle()
    [incident] = await stored(harness)
    assert [m for m in fake.thread("team-payments", ts) if m["ts"] != ts] == []
    [dm] = [m for m in fake.dms_to("alice") if "INC-1" in fake.text_of(m)]
    assert "could not reply" in fake.text_of(dm) and f"<#{incident.channel_id}>" in dm["text"]


async def test_a_message_irbot_cannot_read_still_declares_without_its_text(harness: Harness) -> None:
    fake = harness.fake
    people = [harness.user(n).id for n in ("alice", "bob")]
    fake.add_channel("secret-ops", is_private=True, members=people, creator=people[0])
    ts = await fake.say("bob", "secret-ops", "The admin password leaked: hunter2")
    view = await shortcut_form(harness, "alice", "secret-ops", ts)
    assert initial(view, "declare.title") is None and initial(view, "declare.summary") is None
    assert "cannot read it" in context_text(view)
    assert "hunter2" not in str(view), "nothing of an unreadable message is shown or kept"

    await harness.slack.submit_view(harness.user("alice"), view["id"], {"Title": "Credential leak"})
    await harness.settle()
    [incident] = await stored(harness)
    assert incident.origin_ts == ts and incident.origin_permalink is None
    first = (await timeline(harness, incident))[0]
    assert first.kind == "linked_message" and "hunter2" not in first.text and "not read" in first.text
    assert any("could not reply" in fake.text_of(m) for m in fake.dms_to("alice"))
    assert "hunter2" not in str(fake.calls)


async def test_a_private_incident_gets_no_thread_reply(harness: Harness) -> None:
    fake = harness.fake
    ts = await fake.say("bob", "general", "Suspicious logins on the admin console")
    view = await shortcut_form(harness, "alice", "general", ts)
    await harness.slack.submit_view(harness.user("alice"), view["id"], {"Incident type": "security"})
    await harness.settle()
    [incident] = await stored(harness)
    assert incident.private
    assert [m for m in fake.thread("general", ts) if m["ts"] != ts] == [], "a reply would reveal it"
    [dm] = [m for m in fake.dms_to("alice") if "INC-1" in fake.text_of(m)]
    assert "private" in fake.text_of(dm) and f"<#{incident.channel_id}>" in dm["text"]


async def test_the_same_message_declared_twice_gives_two_incidents_but_one_reply_each(harness: Harness) -> None:
    fake = harness.fake
    ts = await fake.say("bob", "general", "Login page 500s")
    for who in ("alice", "carol"):
        view = await shortcut_form(harness, who, "general", ts)
        async with harness.slack.duplicated():
            await harness.slack.submit_view(harness.user(who), view["id"], {})
        await harness.settle()
    incidents = await stored(harness)
    assert [i.number for i in incidents] == [1, 2]
    replies = [m for m in fake.thread("general", ts) if m["ts"] != ts]
    assert len(replies) == 2


async def test_a_repeated_shortcut_opens_one_form_and_says_nothing(harness: Harness) -> None:
    alice = harness.user("alice")
    ts = await harness.fake.say("bob", "general", "Webhooks delayed")
    async with harness.slack.duplicated():
        await harness.slack.message_shortcut(alice, "general", ts, Shortcut.DECLARE_FROM_MESSAGE)
    async with harness.slack.duplicated():
        await harness.slack.global_shortcut(alice, Shortcut.DECLARE)
    await harness.settle()
    assert len(harness.fake.open_views(alice)) == 2
    assert harness.fake.ephemerals(alice) == [] and harness.fake.dms_to(alice) == []


async def test_a_long_message_is_kept_to_what_a_form_can_carry(harness: Harness) -> None:
    text = "Outage report\n" + "the queue is stuck again " * 400
    ts = await harness.fake.say("bob", "general", text)
    view = await shortcut_form(harness, "alice", "general", ts)
    assert "cut to fit" in context_text(view)
    summary = initial(view, "declare.summary")
    assert summary and text.startswith(summary.rstrip("…")[:100]) and len(summary) <= 2500
    await harness.slack.submit_view(harness.user("alice"), view["id"], {})
    await harness.settle()
    [incident] = await stored(harness)
    first = (await timeline(harness, incident))[0]
    assert first.kind == "linked_message" and first.data["cut"] and text.startswith(first.text)
    assert first.data["permalink"], "the link has the whole text"


async def test_a_retried_set_up_tells_the_declarer_once(harness: Harness) -> None:
    fake = harness.fake
    people = [harness.user(n).id for n in ("alice", "bob")]
    fake.add_channel("team-infra", members=people, creator=people[0])
    ts = await fake.say("bob", "team-infra", "Builds time out")
    view = await shortcut_form(harness, "alice", "team-infra", ts)
    fake.fail_next("pins.add", error="internal_error")  # refused: the set-up is retried
    await harness.slack.submit_view(harness.user("alice"), view["id"], {})
    await harness.settle()
    for _ in range(40):
        [incident] = await stored(harness)
        if incident.setup == "open":
            break
        await asyncio.sleep(0.1)
        await harness.settle()
    assert incident.setup == "open" and len(harness.pinned(incident.channel_id)) == 1
    assert len(fake.calls_to("pins.add")) == 2, "the set-up was retried"
    told = [m for m in fake.dms_to("alice") if "could not reply" in fake.text_of(m)]
    assert len(told) == 1


async def test_declared_from_a_thread_reply_answers_in_that_thread(harness: Harness) -> None:
    fake = harness.fake
    parent = await fake.say("carol", "general", "Deploy 42 is rolling out")
    reply = await fake.say("bob", "general", "Error rate doubled after it", thread_ts=parent)
    view = await shortcut_form(harness, "alice", "general", reply)
    assert initial(view, "declare.title") == "Error rate doubled after it"
    await harness.slack.submit_view(harness.user("alice"), view["id"], {})
    await harness.settle()
    [incident] = await stored(harness)
    assert incident.origin_ts == reply and incident.origin_thread_ts == parent
    answers = [m for m in fake.thread("general", parent) if m.get("bot_id")]
    assert len(answers) == 1 and answers[0]["thread_ts"] == parent
    assert (await timeline(harness, incident))[0].data["ts"] == reply
