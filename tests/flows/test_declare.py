"""Declaring an incident, driven through signed HTTP against the fake Slack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from irbot.store.models import Incident
from irbot.fakeslack.harness import Harness


async def incident_count(harness: Harness) -> int:
    async with harness.irbot.deps.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Incident))).scalar_one()


async def test_declare_opens_channel_card_topic_and_announcement(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    response = await harness.slack.command(alice, "/incident", "declare Checkout API returning 502s")
    assert response.status == 200 and response.elapsed < 3
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None and view["title"]["text"] == "Declare an incident"
    title_block = next(b for b in view["blocks"] if b.get("block_id") == "declare.title")
    assert title_block["element"]["initial_value"] == "Checkout API returning 502s"

    await harness.slack.submit_view(alice, view["id"], {"Severity": "SEV-1", "Summary": "Half of checkouts fail"})
    await harness.settle()
    assert harness.slack.open_view(alice) is None, "the form closes on a good submission"

    channel = fake.channel_by_name("inc-1-checkout-api-returning-502s")
    assert channel is not None and not channel.is_private
    assert alice.id in channel.members
    assert fake.topic(channel.id).startswith("SEV-1 · Investigating · IC: unassigned")
    card_text = harness.card(channel.id)
    for expected in ("INC-1 · Checkout API returning 502s", "*Severity*\nSEV-1 · Critical", "Incident Commander",
                     "_unassigned_", "Half of checkouts fail", "Technical Lead", "Communications Lead"):
        assert expected in card_text
    announcement = [m for m in fake.messages("incidents") if m.get("bot_id")]
    assert len(announcement) == 1
    assert f"<#{channel.id}>" in announcement[0]["text"] or f"<#{channel.id}>" in fake.text_of(announcement[0])
    assert "SEV-1" in fake.text_of(announcement[0])


async def test_same_title_twice_gives_two_channels(harness: Harness) -> None:
    first = await harness.declare("alice", "Database failover")
    second = await harness.declare("bob", "Database failover")
    assert first.name == "inc-1-database-failover" and second.name == "inc-2-database-failover"


async def test_hostile_title_is_data_not_markup(harness: Harness) -> None:
    fake = harness.fake
    title = "<!channel> {{ 7*7 }} *bold* 🔥 " + "x" * 110
    title = title[:150]
    channel = await harness.declare("alice", title)
    assert channel.name.startswith("inc-1-channel-7-7-bold") and len(channel.name) <= 80
    for method, args, _response, _status in fake.calls:
        if method == "views.open":
            continue  # the form is prefilled with the title as typed: plain text, not a message
        sent = json.dumps(args)
        assert "<!channel>" not in sent, f"{method} would ping the channel"
    assert "{{ 7*7 }}" in harness.card(channel.id), "the title is data: Jinja never evaluates it"


async def test_taken_channel_name_gets_a_suffix(harness: Harness) -> None:
    harness.fake.add_channel("inc-1-payments-down", creator=harness.user("bob").id,
                             members=[harness.user("bob").id])
    channel = await harness.declare("alice", "Payments down")
    assert channel.name == "inc-1-payments-down-2"


async def test_invalid_form_comes_back_with_field_errors(harness: Harness) -> None:
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "declare")
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Title": "   ", "Estimated affected users": "lots"})
    errors = harness.slack.view_errors(view["id"])
    assert set(errors) == {"declare.title", "declare.users"}
    assert "whole number" in errors["declare.users"]
    assert harness.slack.open_view(alice) is not None
    assert await incident_count(harness) == 0


async def test_security_incident_is_private_and_not_announced(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Leaked API key", values={"Incident type": "Security"})
    assert channel.is_private
    assert not [m for m in fake.messages("incidents") if m.get("bot_id")]
    await harness.slack.command(harness.user("bob"), "/incident", "list")
    seen_by_bob = fake.text_of(fake.ephemerals(user=harness.user("bob"))[-1])
    assert "Leaked" not in seen_by_bob and "No open incidents" in seen_by_bob
    await harness.slack.command(harness.user("alice"), "/incident", "list")
    assert "Leaked API key" in fake.text_of(fake.ephemerals(user=harness.user("alice"))[-1])


async def test_form_submitted_twice_makes_one_incident(harness: Harness) -> None:
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "declare Double click")
    await harness.settle()
    view = harness.slack.open_view(alice)
    harness.fake.view(view["id"]).state_values = None
    payload_view = harness.fake.view_payload(view["id"])
    first, second = await asyncio.gather(
        harness.slack.submit_view(alice, view["id"], {}),
        _resubmit(harness, alice, payload_view),
    )
    await harness.settle()
    assert first.status == 200 and second.status == 200
    assert await incident_count(harness) == 1
    assert len(harness.incident_channels()) == 1


async def _resubmit(harness: Harness, alice, payload_view):  # noqa: ANN001, ANN202
    """The same submission arriving again (Slack retry or a double click)."""
    from irbot.fakeslack.fake.interactions import view_submission_state
    state = view_submission_state(harness.fake, payload_view, {})
    body = {"type": "view_submission", "team": {"id": harness.fake.team_id}, "user": {"id": alice.id},
            "api_app_id": harness.fake.app_id, "token": "t", "trigger_id": "1.2.3",
            "view": {**payload_view, "state": {"values": state}}}
    return await harness.slack.post_raw(urlencode({"payload": json.dumps(body)}).encode(),
                                        content_type="application/x-www-form-urlencoded")


async def test_help_and_unknown_subcommands_answer_ephemerally(harness: Harness) -> None:
    alice = harness.user("alice")
    for text in ("", "help", "frobnicate"):
        response = await harness.slack.command(alice, "/incident", text)
        assert response.status == 200
        assert response.json["response_type"] == "ephemeral"
        assert "declare [title]" in harness.fake.text_of(response.json)
    assert "frobnicate" in harness.fake.text_of(response.json)


@pytest.mark.http_only("Socket Mode requests are not signed")
async def test_forged_stale_and_unsigned_requests_are_refused(harness: Harness) -> None:
    fake = harness.fake
    calls_before = len(fake.calls)
    body = urlencode({"command": "/incident", "text": "declare x", "user_id": "U0ALICE",
                      "trigger_id": "1.2.3", "team_id": fake.team_id}).encode()
    form = "application/x-www-form-urlencoded"
    unsigned = await harness.slack.post_raw(body, sign=False, content_type=form)
    stale = await harness.slack.post_raw(body, timestamp=int(time.time()) - 6 * 60, content_type=form)
    stamp = str(int(time.time()))
    wrong = "v0=" + hmac.new(b"not-the-secret", f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    forged = await harness.slack.post_raw(body, sign=False, content_type=form, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": wrong})
    assert [unsigned.status, stale.status, forged.status] == [401, 401, 401]
    await harness.settle()
    assert len(fake.calls) == calls_before
    assert await incident_count(harness) == 0
