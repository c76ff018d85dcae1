"""Private incidents check who asks: a request naming a private incident's channel (or a form naming
the incident) from someone outside that channel reveals, changes and invites nothing, however it was
signed. Membership is stored per channel (conversations.members, then join and leave events), so
``/incident list`` answers from the database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from irbot.fakeslack.harness import Harness
from irbot.fakeslack.signed_client import FORM

DATA = {"Incident type": "Data"}  # data incidents always get a private channel


async def declare_private(harness: Harness, title: str, who: str = "alice") -> Any:
    channel = await harness.declare(who, title, values=DATA)
    assert channel.is_private
    return channel


async def test_an_outsider_reads_posts_and_takes_nothing_in_a_private_incident(harness: Harness) -> None:
    fake, alice, erin = harness.fake, harness.user("alice"), harness.user("erin")
    channel = await declare_private(harness, "Customer records exposed")
    assert erin.id not in fake.channel(channel.id).members
    said_before = list(harness.bot_messages(channel.id))

    for command in ("timeline", "roles", "note exfiltrated by erin", "action add erin's action", "list"):
        answer = await harness.slack.command(erin, "/incident", command, channel=channel.id)
        told = fake.text_of(answer.json)
        assert "you are not in it" in told, command
        assert "Customer records" not in told and "INC-1" not in told, command

    card = harness.pinned(channel.id)[0]["ts"]
    await harness.slack.click(erin, channel.id, card, "Take Technical Lead")  # a forged click
    await harness.settle()
    assert erin.id not in fake.channel(channel.id).members, "not invited"
    assert "*Technical Lead*: _unassigned_" in harness.card(channel.id)
    assert "you are not in it" in fake.text_of(fake.dms_to(erin)[-1])

    await harness.slack.command(alice, "/incident", "update", channel=channel.id)
    await harness.settle()
    form = harness.slack.open_view(alice)
    await harness.slack.submit_view(erin, form["id"], {"What changed": "posted by erin"})  # forged form
    await harness.settle()
    assert any("you are not in it" in error for error in harness.slack.view_errors(form["id"]).values())

    assert harness.bot_messages(channel.id) == said_before, "nothing posted into the channel"
    timeline = fake.text_of((await harness.slack.command(alice, "/incident", "timeline", channel=channel.id)).json)
    assert "Key timeline of INC-1" in timeline and "erin" not in timeline


async def test_people_count_from_when_they_join_until_they_leave(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await declare_private(harness, "Keys leaked")
    refused = await harness.slack.command(bob, "/incident", "timeline", channel=channel.id)
    assert "you are not in it" in fake.text_of(refused.json)
    await fake.invite(alice, channel.id, bob)
    await harness.settle()
    allowed = await harness.slack.command(bob, "/incident", "timeline", channel=channel.id)
    assert "Key timeline of INC-1" in fake.text_of(allowed.json)
    listed = await harness.slack.command(bob, "/incident", "list", channel="general")
    assert "Keys leaked" in fake.text_of(listed.json)
    await fake.leave(bob, channel.id)
    await harness.settle()
    refused = await harness.slack.command(bob, "/incident", "timeline", channel=channel.id)
    assert "you are not in it" in fake.text_of(refused.json)
    listed = await harness.slack.command(bob, "/incident", "list", channel="general")
    assert "Keys leaked" not in fake.text_of(listed.json)


async def test_a_role_holder_and_an_admin_need_no_membership(start_harness) -> None:  # noqa: ANN001
    harness = await start_harness(settings='admins = ["U0DAVE"]\n')
    fake, alice, carol, dave = harness.fake, harness.user("alice"), harness.user("carol"), harness.user("dave")
    channel = await declare_private(harness, "Token theft")
    await harness.slack.command(alice, "/incident", f"assign tech <@{carol.id}>", channel=channel.id)
    await harness.settle()
    assert carol.id in fake.channel(channel.id).members, "irbot invites a role holder"
    answer = await harness.slack.command(dave, "/incident", "timeline", channel=channel.id)
    assert "Key timeline of INC-1" in fake.text_of(answer.json)
    listed = await harness.slack.command(dave, "/incident", "list", channel="general")
    assert "Token theft" in fake.text_of(listed.json)


async def test_list_answers_from_stored_membership_without_asking_slack(harness: Harness) -> None:
    fake, alice, erin = harness.fake, harness.user("alice"), harness.user("erin")
    for number in range(3):
        await declare_private(harness, f"Private trouble {number}")
    await harness.declare("alice", "Public trouble")
    asked_before = len(fake.calls_to("conversations.members"))
    mine = fake.text_of((await harness.slack.command(alice, "/incident", "list", channel="general")).json)
    theirs = fake.text_of((await harness.slack.command(erin, "/incident", "list", channel="general")).json)
    assert len(fake.calls_to("conversations.members")) == asked_before, "answered from what is stored"
    assert all(f"Private trouble {n}" in mine for n in range(3)) and "Public trouble" in mine
    assert "Private trouble" not in theirs and "Public trouble" in theirs


async def test_a_forged_click_cannot_hide_a_private_channel_behind_a_public_form(harness: Harness) -> None:
    """The click names the private channel (which the Take handler reads) and a form naming a public
    incident (which a form's handler would read): both are checked."""
    fake, erin = harness.fake, harness.user("erin")
    await harness.declare("alice", "Public one")  # INC-1
    private = await declare_private(harness, "Private one")
    payload = {
        "type": "block_actions", "user": {"id": erin.id, "username": "erin", "team_id": fake.team_id},
        "api_app_id": fake.app_id, "token": fake.verification_token, "team": {"id": fake.team_id},
        "trigger_id": fake.issue_trigger(erin.id), "channel": {"id": private.id, "name": private.name},
        "container": {"type": "view", "view_id": "V0FORGED"},
        "view": {"id": "V0FORGED", "type": "modal", "callback_id": "incident.assess", "blocks": [],
                 "private_metadata": json.dumps({"incident": 1}), "state": {"values": {}}},
        "actions": [{"action_id": "incident.role.take", "block_id": "card.role.tech_lead", "value": "tech_lead",
                     "type": "button", "action_ts": "1.0"}],
    }
    response = await harness.slack.post_raw(urlencode({"payload": json.dumps(payload)}).encode(), content_type=FORM)
    await harness.settle()
    assert response.status == 200
    assert erin.id not in fake.channel(private.id).members
    assert "*Technical Lead*: _unassigned_" in harness.card(private.id)
