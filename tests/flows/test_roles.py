"""Taking, assigning and handing over roles from the card and with /incident assign."""

from __future__ import annotations

import asyncio

from irbot.fakeslack.harness import Harness


async def card_ts(harness: Harness, channel: str) -> str:
    return harness.pinned(channel)[0]["ts"]


async def test_take_commander_from_the_card_updates_card_topic_and_announcement(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Checkout errors")
    await fake.join(bob, channel.id)
    await harness.slack.click(bob, channel.id, await card_ts(harness, channel.id), "Take Incident Commander")
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    assert "IC: bob" in fake.topic(channel.id)
    [announcement] = [m for m in fake.messages("incidents") if m.get("bot_id")]
    assert f"Commander: <@{bob.id}>" in fake.text_of(announcement)
    said = [fake.text_of(m) for m in fake.messages(channel.id) if m.get("bot_id")]
    assert any(f"<@{bob.id}> is now *Incident Commander*" in text for text in said)
    brief = fake.dms_to(bob)[-1]
    assert "Coordinates the response" in fake.text_of(brief)
    assert len(fake.calls_to("chat.update")) >= 2  # card and announcement, in place
    assert alice.id in fake.channel(channel.id).members


async def test_assign_by_picker_invites_the_assignee(harness: Harness) -> None:
    fake, alice, carol = harness.fake, harness.user("alice"), harness.user("carol")
    channel = await harness.declare("alice", "Search is slow")
    await harness.slack.select_user(alice, channel.id, await card_ts(harness, channel.id),
                                    "Assign Communications Lead…", carol.id)
    await harness.settle()
    assert carol.id in fake.channel(channel.id).members
    assert f"*Communications Lead*: <@{carol.id}>" in harness.card(channel.id)
    assert any(f"<@{alice.id}> made <@{carol.id}> *Communications Lead*" in fake.text_of(m)
               for m in fake.messages(channel.id))


async def test_assign_by_command_and_hand_over(harness: Harness) -> None:
    fake, alice, bob, dave = harness.fake, harness.user("alice"), harness.user("bob"), harness.user("dave")
    channel = await harness.declare("alice", "Login failures")
    response = await harness.slack.command(alice, "/incident", f"assign commander <@{bob.id}|bob>", channel=channel.id)
    assert response.status == 200
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    await harness.slack.command(bob, "/incident", "assign ic @dave", channel=channel.id)
    await harness.settle()
    assert f"*Incident Commander*: <@{dave.id}>" in harness.card(channel.id)
    assert any(f"<@{bob.id}> handed *Incident Commander* to <@{dave.id}>" in fake.text_of(m)
               for m in fake.messages(channel.id))
    roles = await harness.slack.command(dave, "/incident", "roles", channel=channel.id)
    assert f"*Incident Commander*: <@{dave.id}>" in fake.text_of(roles.json)


async def test_bystander_cannot_take_a_held_role(harness: Harness) -> None:
    fake, alice, bob, erin = harness.fake, harness.user("alice"), harness.user("bob"), harness.user("erin")
    channel = await harness.declare("alice", "Queue backlog")
    ts = await card_ts(harness, channel.id)
    await fake.join(bob, channel.id)
    await fake.join(erin, channel.id)
    await harness.slack.click(bob, channel.id, ts, "Take Incident Commander")
    await harness.settle()
    await harness.slack.click(erin, channel.id, ts, "Take Incident Commander")
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    refusal = fake.ephemerals(user=erin)[-1]
    assert f"<@{bob.id}> holds *Incident Commander*" in fake.text_of(refusal)
    response = await harness.slack.command(erin, "/incident", f"assign tech <@{erin.id}>", channel=channel.id)
    assert response.status == 200
    await harness.settle()
    assert f"*Technical Lead*: <@{erin.id}>" in harness.card(channel.id), "anyone may take an empty role"
    response = await harness.slack.command(erin, "/incident", f"assign comms <@{alice.id}>", channel=channel.id)
    assert "Only the commander" in fake.text_of(response.json)


async def test_race_for_an_empty_role_has_one_winner(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Cache stampede")
    ts = await card_ts(harness, channel.id)
    racers = [harness.user(n) for n in ("bob", "carol", "dave", "erin")]
    for racer in racers:
        await fake.join(racer, channel.id)
    await asyncio.gather(*(harness.slack.click(r, channel.id, ts, "Take Incident Commander") for r in racers))
    await harness.settle()
    card = harness.card(channel.id)
    winners = [r for r in racers if f"*Incident Commander*: <@{r.id}>" in card]
    assert len(winners) == 1
    losers = [r for r in racers if r not in winners]
    winner = winners[0]
    for loser in losers:
        told = fake.text_of(fake.ephemerals(user=loser)[-1])
        # Told either way: they lost the compare-and-set, or saw the winner already holding it.
        assert "a moment before you" in told or f"<@{winner.id}> holds *Incident Commander*" in told
    announced = [m for m in fake.messages(channel.id) if "is now *Incident Commander*" in fake.text_of(m)]
    assert len(announced) == 1


async def test_double_click_changes_nothing_the_second_time(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Disk full")
    ts = await card_ts(harness, channel.id)
    await fake.join(bob, channel.id)
    await asyncio.gather(harness.slack.click(bob, channel.id, ts, "Take Technical Lead"),
                         harness.slack.click(bob, channel.id, ts, "Take Technical Lead"))
    await harness.settle()
    announced = [m for m in fake.messages(channel.id) if "is now *Technical Lead*" in fake.text_of(m)]
    assert len(announced) == 1


async def test_bots_and_deactivated_people_get_no_role(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Pager storm")
    for who in ("zed", "otherbot"):
        response = await harness.slack.command(alice, "/incident", f"assign tech <@{harness.user(who).id}>",
                                               channel=channel.id)
        assert "only gives roles to active people" in fake.text_of(response.json)
    assert "*Technical Lead*: _unassigned_" in harness.card(channel.id)


async def test_role_commands_outside_an_incident_channel_explain_where(harness: Harness) -> None:
    response = await harness.slack.command(harness.user("alice"), "/incident", "roles", channel="general")
    assert "inside an incident channel" in harness.fake.text_of(response.json)


LEGAL_ROLES = ('[[roles]]\nkey = "commander"\n[[roles]]\nkey = "tech_lead"\n[[roles]]\nkey = "comms_lead"\n'
               '[[roles]]\nkey = "legal"\nname = "Legal & Compliance"\ndescription = "Regulators and counsel"\n')


async def test_a_bystander_cannot_give_themselves_the_legal_roles_powers(start_harness) -> None:  # noqa: ANN001
    harness = await start_harness(settings=LEGAL_ROLES)
    fake, alice, bob, carol = harness.fake, harness.user("alice"), harness.user("bob"), harness.user("carol")
    channel = await harness.declare("alice", "Card data", values={"Personal or payment data involved?": ["PCI DSS"]})
    await fake.join(bob, channel.id)
    await harness.slack.click(bob, channel.id, await card_ts(harness, channel.id), "Take Legal")
    await harness.settle()
    refusal = fake.text_of(fake.ephemerals(user=bob)[-1])
    assert "carries powers" in refusal and f"<@{alice.id}>" in refusal, "told who can assign it"
    assert "Compliance*: _unassigned_" in harness.card(channel.id)
    assert bob.id not in harness.bot_messages(channel.id)[-1]
    answer = await harness.slack.command(bob, "/incident", f"assign legal <@{bob.id}>", channel=channel.id)
    assert "carries powers" in fake.text_of(answer.json)
    for command in ("notified pci", "hold"):  # what the role would have let bob do
        answer = await harness.slack.command(bob, "/incident", command, channel=channel.id)
        assert "Only the Incident Commander" in fake.text_of(answer.json), command
    assert "PCI DSS*: notify the payment brands by" in harness.card(channel.id)

    await harness.slack.command(alice, "/incident", f"assign legal <@{carol.id}>", channel=channel.id)
    await harness.settle()
    assert f"Compliance*: <@{carol.id}>" in harness.card(channel.id)
    answer = await harness.slack.command(carol, "/incident", f"assign legal <@{bob.id}>", channel=channel.id)
    assert "carries powers" in fake.text_of(answer.json), "the holder does not hand powers on either"
    await harness.slack.command(carol, "/incident", "notified pci REF-1", channel=channel.id)
    await harness.settle()
    assert "PCI DSS*: notified" in harness.card(channel.id)


async def test_taking_the_empty_commander_seat_stays_open_and_is_told(start_harness) -> None:  # noqa: ANN001
    harness = await start_harness(settings=LEGAL_ROLES)
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Queue stuck")
    await fake.join(bob, channel.id)
    await harness.slack.click(bob, channel.id, await card_ts(harness, channel.id), "Take Incident Commander")
    await harness.settle()
    assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    assert any(f"<@{bob.id}> is now *Incident Commander*" in t for t in harness.bot_messages(channel.id))
