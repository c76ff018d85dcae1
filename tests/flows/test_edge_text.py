"""Text Slack sends that no database can store (NUL) or no encoder can encode (a lone surrogate):
irbot keeps what the person meant, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import json

import aiohttp
import pytest

from irbot.fakeslack.harness import Harness
from tests.conftest import StartHarness
from tests.flows.test_operators import notification
from tests.flows.test_timeline import upload_text


def attempts_answered(harness: Harness) -> list[int | None]:
    return [attempt["status"] for attempt in harness.fake.events.attempts]


async def test_nul_in_commands_forms_and_messages_is_dropped(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Disk\x00 full")
    assert "Disk full" in harness.card(channel.id)
    noted = await harness.slack.command(alice, "/incident", "note a\x00b", channel=channel.id)
    answer = fake.text_of(noted.json)
    assert "Noted" in answer and "can't reach its database" not in answer, answer
    await fake.say(alice, channel.id, "said with a\x00 NUL")
    await fake.say(alice, channel.id, "half a pair \ud800 here")
    await harness.settle()
    assert set(attempts_answered(harness)) == {200}, fake.events.attempts
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    document = upload_text(harness, channel.id)
    assert "said with a NUL" in document and "half a pair \ufffd here" in document
    assert "ab" in document


async def test_a_nul_said_while_irbot_was_down_does_not_break_the_postmortem(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Backfilled NUL")
    await harness.settle()
    await harness.stop_app()
    await fake.say(alice, channel.id, "while down\x00 with a NUL")
    await harness.start_app()
    await harness.settle()
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    assert "while down with a NUL" in upload_text(harness, channel.id)


async def test_a_value_the_database_refuses_is_not_called_an_outage(harness: Harness) -> None:
    """PostgreSQL refuses an integer past 64 bits (a DataError): the person must not be told the
    database is unreachable, since trying again in a minute cannot help."""
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Huge numbers")
    answer = await harness.slack.command(alice, "/incident", "action done 99999999999999999999999", channel=channel.id)
    assert answer.status == 200
    assert "can't reach its database" not in harness.fake.text_of(answer.json)


@pytest.mark.http_only("Alertmanager posts over HTTP whatever the Slack mode")
async def test_alerts_with_nul_lone_surrogates_or_deep_nesting(start_harness: StartHarness) -> None:
    harness = await start_harness(env={"IRBOT_ALERT_TOKEN": "alert-token"})
    url = f"http://127.0.0.1:{harness.irbot.port}/alerts/alertmanager"
    firing = notification("{}:{alertname=\"NulAlert\"}")
    firing["commonAnnotations"]["summary"] = "Checkout\x00 errors \ud800 up"
    deep = b'{"version": "4", "alerts": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer alert-token"}) as session:
        async with session.post(url, data=json.dumps(firing).encode()) as response:
            assert response.status == 200, await response.text()
        async with session.post(url, data=deep) as response:
            assert response.status == 400, await response.text()
    await harness.settle()
    [channel] = harness.incident_channels()
    assert "Checkout errors \ufffd up" in harness.card(channel)
