"""``/incident convert`` (an incident in the channel people already use) and "Add to incident
timeline" (a message from elsewhere joins an incident's timeline)."""

from __future__ import annotations


from sqlalchemy import select

from irbot.domain.timeline import ts_to_datetime
from irbot.fakeslack.harness import Harness
from irbot.store.models import Incident, TimelineEvent
from irbot.views.ids import Shortcut


async def stored(harness: Harness) -> list[Incident]:
    async with harness.irbot.deps.db.session() as session:
        return list((await session.execute(select(Incident).order_by(Incident.number))).scalars().all())


async def events(harness: Harness, incident_id: int | None, kind: str | None = None) -> list[TimelineEvent]:
    async with harness.irbot.deps.db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
        if kind:
            query = query.where(TimelineEvent.kind == kind)
        return list((await session.execute(query.order_by(TimelineEvent.at, TimelineEvent.seq))).scalars().all())


def last_ephemeral(harness: Harness, who: str, channel: str) -> str:
    return harness.fake.text_of(harness.fake.ephemerals(who, channel)[-1])


async def test_convert_runs_the_incident_in_this_channel(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    people = [harness.user(n).id for n in ("alice", "bob", "carol")]
    room = fake.add_channel("war-room", members=people, creator=people[0])
    old = fake.add_message(room, {"user": people[1], "text": "said two days ago"})
    old_ts = f"{float(old['ts']) - 2 * 86400:.6f}"
    room.messages[old_ts] = {**room.messages.pop(old["ts"]), "ts": old_ts}
    first = await fake.say("bob", "war-room", "db latency climbing")
    second = await fake.say("carol", "war-room", "replica lag 40s", thread_ts=first)

    answer = await harness.slack.command(alice, "/incident", "convert Database latency", channel="war-room")
    assert answer.status == 200 and not answer.body.strip()
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None
    assert any("no new channel" in e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"])
    await harness.slack.submit_view(alice, view["id"], {"Severity": "SEV-2"})
    await harness.settle()

    [incident] = await stored(harness)
    assert incident.channel_id == room.id and incident.converted and incident.setup == "open"
    assert harness.incident_channels() == [], "no new channel"
    assert fake.bot_user_id in room.members
    assert fake.topic(room.id).startswith("SEV-2 · Investigating")
    assert "INC-1 · Database latency" in harness.card(room.id)
    announced = [m for m in fake.messages("incidents") if m.get("bot_id")]
    assert len(announced) == 1 and "Database latency" in fake.text_of(announced[0]), announced
    said = {e.data["ts"] for e in await events(harness, incident.id, "message")}
    assert {first, second} <= said and old_ts not in said, "the last 24 hours start the timeline"

    later = await fake.say("bob", "war-room", "failover started")
    await harness.settle()
    assert later in {e.data["ts"] for e in await events(harness, incident.id, "message")}, "captured live"


async def test_convert_is_refused_in_a_dm_and_in_an_incident_channel(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    dm = fake.dm_channel(alice.id)
    answer = await harness.slack.command(alice, "/incident", "convert", channel=dm.id)
    assert "not in a direct message" in answer.json["text"]
    channel = await harness.declare("alice", "Queue backlog")
    answer = await harness.slack.command(alice, "/incident", "convert", channel=channel.id)
    assert "already the channel of INC-1" in answer.json["text"]
    assert harness.slack.open_view(alice) is None and len(await stored(harness)) == 1


async def test_convert_in_a_private_channel_irbot_is_not_in_asks_for_an_invite(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    fake.add_channel("sec-room", is_private=True, members=[alice.id], creator=alice.id)
    await harness.slack.command(alice, "/incident", "convert", channel="sec-room")
    await harness.settle()
    assert harness.slack.open_view(alice) is None
    assert any("Invite me first" in fake.text_of(m) for m in fake.dms_to("alice"))


async def test_a_private_incident_cannot_convert_a_public_channel(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    fake.add_channel("ops", members=[alice.id, fake.bot_user_id], creator=alice.id)
    await harness.slack.command(alice, "/incident", "convert Breach", channel="ops")
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Incident type": "security"})
    assert "public" in harness.slack.view_errors(view["id"])["declare.private"]
    assert await stored(harness) == []


async def test_add_a_message_to_an_incident_timeline(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Payments failing")
    ts = await fake.say("bob", "general", "Card processor status page says degraded")
    carol = harness.user("carol")
    response = await harness.slack.message_shortcut(carol, "general", ts, Shortcut.ADD_TO_TIMELINE)
    assert response.status == 200 and response.elapsed < 3
    await harness.settle()
    view = harness.slack.open_view(carol)
    assert view is not None and view["title"]["text"] == "Add to timeline"
    await harness.slack.submit_view(carol, view["id"], {"Incident": "INC-1", "Note": "likely the cause"})
    await harness.settle()
    assert harness.slack.open_view(carol) is None

    [incident] = await stored(harness)
    [linked] = await events(harness, incident.id, "linked_message")
    assert linked.at == ts_to_datetime(ts) and linked.actor_id == harness.user("bob").id
    assert linked.text == "Card processor status page says degraded"
    assert linked.data["added_by"] == carol.id and linked.data["note"] == "likely the cause"
    assert linked.data["permalink"] and linked.hash, "a key event in the evidence log"
    told = [t for t in harness.bot_messages(channel.id) if "added a message" in t]
    assert len(told) == 1 and "Card processor" in told[0] and "likely the cause" in told[0]

    again = await harness.slack.message_shortcut(carol, "general", ts, Shortcut.ADD_TO_TIMELINE)
    assert again.status == 200
    await harness.settle()
    view = harness.slack.open_view(carol)
    await harness.slack.submit_view(carol, view["id"], {"Incident": "INC-1"})
    assert "already on the timeline" in harness.slack.view_errors(view["id"])["link.incident"]
    assert len(await events(harness, incident.id, "linked_message")) == 1


async def test_a_stale_form_is_answered_in_the_form(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Cache stampede")
    ts = await fake.say("bob", "general", "hit rate dropped to 3%")
    await harness.slack.message_shortcut(alice, "general", ts, Shortcut.ADD_TO_TIMELINE)
    await harness.settle()
    link_form = harness.slack.open_view(alice)
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    resolve_form = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, resolve_form["id"], {"Resolution summary (one line)": "Warmed"})
    await harness.settle()
    await harness.slack.submit_view(alice, link_form["id"], {"Incident": "INC-1"})
    assert "resolved meanwhile" in harness.slack.view_errors(link_form["id"])["link.incident"]


async def test_private_incidents_are_offered_only_to_their_members(harness: Harness) -> None:
    fake = harness.fake
    await harness.declare("alice", "Public thing")
    await harness.declare("alice", "Secret thing", values={"Incident type": "security"})
    ts = await fake.say("bob", "general", "anything")
    for who, expected in (("alice", {"INC-1", "INC-2"}), ("bob", {"INC-1"})):
        await harness.slack.message_shortcut(harness.user(who), "general", ts, Shortcut.ADD_TO_TIMELINE)
        await harness.settle()
        view = harness.slack.open_view(harness.user(who))
        select_block = next(b for b in view["blocks"] if b.get("block_id") == "link.incident")
        offered = {o["text"]["text"].split(" · ")[0] for o in select_block["element"]["options"]}
        assert offered == expected, who
        await harness.slack.close_view(harness.user(who), view["id"])


async def test_no_open_incident_is_said_plainly(harness: Harness) -> None:
    ts = await harness.fake.say("bob", "general", "is anything broken?")
    await harness.slack.message_shortcut(harness.user("bob"), "general", ts, Shortcut.ADD_TO_TIMELINE)
    await harness.settle()
    assert harness.slack.open_view(harness.user("bob")) is None
    assert "no open incident" in last_ephemeral(harness, "bob", "general")


async def test_the_post_mortem_shows_linked_messages_and_the_converted_channels_day(harness: Harness) -> None:
    from tests.flows.test_timeline import upload_text
    fake, alice = harness.fake, harness.user("alice")
    people = [harness.user(n).id for n in ("alice", "bob")]
    room = fake.add_channel("ops-room", members=[*people, fake.bot_user_id], creator=people[0])
    await fake.say("bob", "ops-room", "the nightly job never finished")
    await harness.slack.command(alice, "/incident", "convert Nightly job stuck", channel="ops-room")
    await harness.settle()
    await harness.slack.submit_view(alice, harness.slack.open_view(alice)["id"], {})
    await harness.settle()
    elsewhere = await fake.say("bob", "general", "Same thing in staging <https://x.example|dashboard> a|b")
    await harness.slack.message_shortcut(alice, "general", elsewhere, Shortcut.ADD_TO_TIMELINE)
    await harness.settle()
    await harness.slack.submit_view(alice, harness.slack.open_view(alice)["id"], {"Incident": "INC-1"})
    await harness.settle()
    await harness.slack.command(alice, "/incident", "postmortem", channel=room.id)
    await harness.settle()
    document = upload_text(harness, room.id)
    key = document.split("## Key timeline", 1)[1].split("\n## ", 1)[0]
    assert "🔗 Message by" in key and "Same thing in staging" in key and "a\\|b" in key
    assert "the nightly job never finished" in document, "the channel's day before is in the log"
