"""Socket Mode itself: connecting, acks, reconnecting, and the HTTP server beside it.

Every other flow test runs in Socket Mode too (the ``slack_mode`` fixture); these are about what
only Socket Mode has. Here ``slack_mode`` is always "socket".
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import func, select

from irbot.app import create_app
from irbot.config import ConfigError, load_settings
from irbot.store.models import TimelineEvent
from irbot.fakeslack.fake_slack import FakeSlack
from irbot.fakeslack.harness import BOT_TOKEN, Harness
from tests.rigs.processes import IrbotProcess, free_port, irbot_env
from irbot.fakeslack.signed_client import SlackClient

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def slack_mode() -> str:
    return "socket"


async def count_events(harness: Harness, kind: str) -> int:
    async with harness.irbot.deps.db.session() as session:
        query = select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == kind)
        return (await session.execute(query)).scalar_one()


def opens(fake: FakeSlack) -> list[tuple]:
    return fake.calls_to("apps.connections.open")


async def test_declare_over_socket_mode(harness: Harness) -> None:
    fake = harness.fake
    assert harness.irbot.settings.slack_signing_secret is None, "Socket Mode needs no signing secret"
    channel = await harness.declare("alice", "Payments down", values={"Severity": "SEV-1"})
    assert channel.name == "inc-1-payments-down"
    assert "INC-1 · Payments down" in harness.card(channel.id) and "SEV-1" in harness.card(channel.id)
    assert [m for m in fake.messages("incidents") if m.get("bot_id")], "announced"
    kinds = {e["type"] for e in fake.socket.envelopes}
    assert kinds == {"slash_commands", "interactive", "events_api"}, kinds
    [(_method, _args, answer, _status)] = opens(fake)
    assert answer["ok"] and answer["url"].startswith(f"ws://127.0.0.1:{fake.port}/socket/")


async def test_every_envelope_is_acked_within_three_seconds(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Ack everything")
    await fake.say(alice, channel.id, "a message for the timeline")
    await harness.slack.click(alice, channel.id, harness.pinned(channel.id)[0]["ts"], "Take Technical Lead")
    await harness.slack.command(alice, "/incident", "note acked", channel=channel.id)
    await harness.settle()
    envelopes = fake.socket.envelopes
    assert len(envelopes) >= 8 and not fake.socket.unacked
    assert len(fake.socket.acks) == len(envelopes)
    assert max(a.elapsed for a in fake.socket.acks) < 3.0
    events = [e for e in envelopes if e["type"] == "events_api"]
    assert all(e["retry_attempt"] == 0 and e["retry_reason"] == "" and not e["accepts_response_payload"]
               for e in events)
    assert all(e["accepts_response_payload"] for e in envelopes if e["type"] == "slash_commands")


async def test_the_ack_carries_the_answer(harness: Harness) -> None:
    answer = await harness.slack.command(harness.user("alice"), "/incident", "help")
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    ack = harness.fake.socket.acks[-1]
    assert ack.payload == answer.json and "declare [title]" in harness.fake.text_of(ack.payload)


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_a_disconnect_message_makes_irbot_reconnect(harness: Harness, reason: str) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Refresh")
    await fake.send_disconnect(reason)
    await fake.socket.wait_connected(5, after=1)
    assert len(opens(fake)) == 2, "a new URL from apps.connections.open"
    answer = await harness.slack.command(alice, "/incident", "note after the refresh", channel=channel.id)
    assert answer.status == 200 and "Noted" in fake.text_of(answer.json)
    for _ in range(50):  # irbot closes the old connection itself
        if len(fake.socket.open_connections()) == 1:
            break
        await asyncio.sleep(0.05)
    assert [c.number for c in fake.socket.open_connections()] == [2]


async def test_a_dropped_connection_is_reopened(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Dropped")
    await fake.drop_socket()
    assert not fake.socket_connected
    await fake.socket.wait_connected(5, after=1)
    assert len(opens(fake)) == 2
    answer = await harness.slack.command(alice, "/incident", "note after the drop", channel=channel.id)
    assert answer.status == 200 and "Noted" in fake.text_of(answer.json)
    await fake.say(alice, channel.id, "events flow again")
    await harness.settle()
    assert await count_events(harness, "message") >= 1


async def test_a_restart_opens_a_new_connection(harness: Harness) -> None:
    channel = await harness.declare("alice", "Restart")
    await harness.stop_app()
    assert not harness.fake.socket_connected, "stopping irbot closes its connection"
    await harness.start_app()
    assert len(opens(harness.fake)) == 2
    answer = await harness.slack.command(harness.user("alice"), "/incident", "note back", channel=channel.id)
    assert "Noted" in harness.fake.text_of(answer.json)


async def test_http_serves_all_but_slack_events(harness: Harness) -> None:
    base = f"http://127.0.0.1:{harness.irbot.port}"
    body = urlencode({"command": "/incident", "text": "help", "user_id": "U0ALICE"}).encode()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as health:
            assert health.status == 200 and (await health.json())["status"] == "ok"
        async with http.get(f"{base}/metrics") as metrics:
            assert metrics.status == 200 and "irbot" in await metrics.text()
        async with http.post(f"{base}/slack/events", data=body, headers={"Content-Type": FORM}) as events:
            assert events.status == 404
        async with http.post(f"{base}/alerts/alertmanager", data=b"{}") as alerts:
            assert alerts.status == 404, "off unless IRBOT_ALERT_TOKEN is set, as over HTTP"


async def test_refused_envelopes_are_acked_and_change_nothing(harness: Harness) -> None:
    fake, slack = harness.fake, harness.slack
    calls = len(fake.calls)
    for body, content_type in [
        (json.dumps({"type": "mystery"}).encode(), "application/json"),
        (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "channel": 5}}).encode(),
         "application/json"),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D", FORM),
        (b"command=%2Fincident", FORM),
    ]:
        answer = await slack.post_raw(body, content_type=content_type)
        assert (answer.status, answer.body) == (200, ""), body
    await harness.settle()
    assert len(fake.calls) == calls and not fake.socket.unacked
    channel = await harness.declare("alice", "Still serving")
    assert channel.name == "inc-1-still-serving"


async def test_a_redelivered_event_carries_its_retry_and_is_stored_once(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Retried")
    await fake.say(harness.user("alice"), channel.id, "only once")
    await harness.settle()
    event_id = next(e["event_id"] for e in fake.delivered_events if e["event"].get("text") == "only once")
    assert await fake.redeliver(event_id) == 200
    retry = fake.socket.envelopes[-1]
    assert retry["payload"]["event_id"] == event_id and retry["retry_attempt"] == 1
    assert retry["retry_reason"] == "http_timeout"
    await harness.settle()
    assert await count_events(harness, "message") == 1


async def test_an_event_that_fails_is_left_unacked_and_slack_sends_it_again(harness: Harness,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is out when the event arrives: no ack, so Slack retries it, as after an HTTP 503."""
    from irbot.slack import timeline
    fake = harness.fake
    channel = await harness.declare("alice", "Database blip")
    real_capture, failures = timeline.capture_event, []

    async def capture_once_unreachable(event, deps):  # noqa: ANN001, ANN202
        if not failures:
            failures.append(event)
            raise OSError("database unreachable")
        return await real_capture(event, deps)

    monkeypatch.setattr(timeline, "capture_event", capture_once_unreachable)
    fake.events.ack_deadline = 0.5
    await fake.say(harness.user("alice"), channel.id, "said during the blip")
    await harness.settle()
    event_id = next(e["event_id"] for e in fake.delivered_events if e["event"].get("text") == "said during the blip")
    attempts = [a for a in fake.events.attempts if a["event_id"] == event_id]
    assert [a["status"] for a in attempts] == [None, 200]
    assert len(fake.socket.unacked) == 1
    assert await count_events(harness, "message") == 1


async def test_a_refused_app_token_is_a_configuration_error(tmp_path: Path) -> None:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        fake.socket.enabled = True
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-wrong",
                                  "SLACK_API_URL": fake.api_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'i.db'}"})
        irbot = create_app(settings)
        try:
            with pytest.raises(ConfigError, match="invalid_auth"):
                await irbot.start(port=0, host="127.0.0.1", socket_mode=True)
        finally:
            await irbot.stop()
        assert opens(fake)[0][2] == {"ok": False, "error": "invalid_auth"}


@pytest.mark.slow
async def test_irbot_serve_with_an_app_token_uses_socket_mode(tmp_path: Path) -> None:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        fake.socket.enabled = True
        env = irbot_env(api_url=fake.api_url, database_url=f"sqlite:///{tmp_path / 'irbot.db'}", bot_token=BOT_TOKEN,
                        signing_secret="", SLACK_APP_TOKEN=fake.socket_app_token)
        del env["SLACK_SIGNING_SECRET"]
        bot = await IrbotProcess(env=env, log_dir=tmp_path).start()
        try:
            await fake.socket.wait_connected(30)
            answer = await SlackClient(fake).command(fake.user("alice"), "/incident", "help")
            assert answer.status == 200 and "declare [title]" in fake.text_of(answer.json)
            async with aiohttp.ClientSession() as http, http.post(bot.events_url, data=b"{}") as refused:
                assert refused.status == 404
        finally:
            bot.terminate(wait=False)  # the fake runs on this loop: wait for the exit off the loop
            code = await asyncio.to_thread(bot.terminate)
        assert code == 0, bot.log_text()
        assert not fake.violations


def test_irbot_serve_with_a_wrong_app_token_exits_2(tmp_path: Path) -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        async with FakeSlack(bot_token=BOT_TOKEN) as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IRBOT_", "DATABASE_"))}
            env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-wrong", SLACK_API_URL=fake.api_url,
                       DATABASE_URL=f"sqlite:///{tmp_path / 'irbot.db'}", PORT=str(free_port()))
            return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "irbot", "serve"], env=env,
                                           capture_output=True, text=True, timeout=60)
    done = asyncio.run(run())
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("irbot: Slack refused SLACK_APP_TOKEN")


# --- the fake's side, spoken to directly ------------------------------------------------------------

async def test_the_fake_speaks_socket_mode_as_slack_documents_it() -> None:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake, aiohttp.ClientSession() as http:
        async def open_url(token: str) -> dict:
            async with http.post(fake.api_url + "apps.connections.open",
                                 headers={"Authorization": f"Bearer {token}"}) as answer:
                return await answer.json()

        assert await open_url(BOT_TOKEN) == {"ok": False, "error": "not_allowed_token_type"}
        assert await open_url("xapp-1-other") == {"ok": False, "error": "invalid_auth"}
        url = (await open_url(fake.socket_app_token))["url"]
        async with http.ws_connect(url) as ws:
            hello = await ws.receive_json()
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": fake.app_id} and "host" in hello["debug_info"]
            delivery = asyncio.ensure_future(fake.socket.deliver("slash_commands", {"command": "/incident"}))
            envelope = await ws.receive_json()
            assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
            await ws.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "hi"}})
            ack = await delivery
            assert ack is not None and ack.payload == {"text": "hi"}
            await ws.send_json({"envelope_id": envelope["envelope_id"]})  # a second ack for the same envelope
            await fake.send_disconnect("warning")
            assert (await ws.receive_json())["reason"] == "warning"
            with pytest.raises(ValueError):
                await fake.send_disconnect("bored")
        with pytest.raises(aiohttp.WSServerHandshakeError):  # a ticket is good for one connection
            await http.ws_connect(url)
        assert len(fake.violations) == 1 and "already acknowledged" in fake.violations[0]
