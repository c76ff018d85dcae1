"""The fake Slack's shortcut payloads, app_home_opened and views.publish, as Slack documents them."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from irbot.fakeslack import FakeSlack, SlackClient
from tests.testing.conftest import Receiver

HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}


async def test_shortcut_payloads_have_slacks_shape(fake: FakeSlack, receiver: Receiver, slack: SlackClient) -> None:
    await slack.global_shortcut("alice", "cb.global")
    payload = receiver.payloads()[-1]
    assert payload["type"] == "shortcut" and payload["callback_id"] == "cb.global"
    assert payload["user"]["id"] == "U0ALICE" and payload["trigger_id"] and payload["team"]["id"] == fake.team_id
    assert "channel" not in payload and "response_url" not in payload, "global shortcuts have neither"

    ts = await fake.say("bob", "general", "look at this")
    await slack.message_shortcut("alice", "general", ts, "cb.message")
    payload = receiver.payloads()[-1]
    assert payload["type"] == "message_action" and payload["callback_id"] == "cb.message"
    assert payload["channel"] == {"id": "C0GENERAL", "name": "general"} and payload["message_ts"] == ts
    assert payload["message"]["type"] == "message" and payload["message"]["text"] == "look at this"
    assert payload["message"]["user"] == "U0BOB" and payload["response_url"] and payload["trigger_id"]
    fake.assert_no_violations()


async def test_views_publish_rules(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    published = await web_client.views_publish(user_id="U0ALICE", view=HOME)
    assert published["view"]["type"] == "home" and published["view"]["id"].startswith("V")
    again = await web_client.views_publish(user_id="U0ALICE", view=HOME, hash=published["view"]["hash"])
    assert again["view"]["id"] == published["view"]["id"] and again["view"]["hash"] != published["view"]["hash"]
    with pytest.raises(SlackApiError) as stale:
        await web_client.views_publish(user_id="U0ALICE", view=HOME, hash=published["view"]["hash"])
    assert stale.value.response["error"] == "hash_conflict"
    for bad in ({**HOME, "type": "modal", "title": {"type": "plain_text", "text": "x"}},
                {**HOME, "submit": {"type": "plain_text", "text": "Go"}},
                {**HOME, "blocks": [HOME["blocks"][0]] * 101}):
        with pytest.raises(SlackApiError) as refused:
            await web_client.views_publish(user_id="U0ALICE", view=bad)
        assert refused.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as nobody:
        await web_client.views_publish(user_id="U0NOBODY", view=HOME)
    assert nobody.value.response["error"] == "invalid_arguments"
    assert len(fake.violations) == 3  # each bad view is also a broken rule of the bot's
    fake.violations.clear()


async def test_app_home_opened_carries_the_published_view(fake: FakeSlack, web_client: AsyncWebClient,
                                                          receiver: Receiver, slack: SlackClient) -> None:
    await slack.open_home("alice")
    await fake.events_delivered()
    first = receiver.payloads()[-1]
    assert first["type"] == "event_callback" and first["event"]["type"] == "app_home_opened"
    assert first["event"]["user"] == "U0ALICE" and first["event"]["tab"] == "home"
    assert first["event"]["channel"].startswith("D") and "view" not in first["event"]
    await web_client.views_publish(user_id="U0ALICE", view=HOME)
    await slack.open_home("alice")
    await fake.events_delivered()
    second = receiver.payloads()[-1]
    assert second["event"]["view"]["type"] == "home" and second["event"]["view"]["blocks"] == HOME["blocks"]
