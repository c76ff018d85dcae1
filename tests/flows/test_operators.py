"""Alerts in from Alertmanager, Prometheus metrics and signed webhooks out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from sqlmodel import select
from aiohttp import web
from sqlalchemy import func, select

from irbot.store.models import Incident
from irbot.store.models import OutboxItem
from irbot.fakeslack.harness import FakeClock, Harness

TOKEN = "alert-token-for-tests"
SECRET = "webhook-secret-for-tests"


class Receiver:
    """A webhook receiver that can be told to fail or be slow."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str, bytes]] = []
        self.timestamps: list[str] = []
        self.fail_next = 0
        self.redirect = False
        self.redirected: list[bytes] = []
        self.delay = 0.0
        self.app = web.Application()
        self.app.router.add_post("/hook", self.hook)
        self.app.router.add_post("/elsewhere", self.elsewhere)
        self.runner = web.AppRunner(self.app)
        self.url = ""

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(self.delay)
        if self.redirect:
            raise web.HTTPTemporaryRedirect("/elsewhere")
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.received.append((json.loads(body), request.headers.get("X-Irbot-Signature", ""), body))
        self.timestamps.append(request.headers.get("X-Irbot-Timestamp", ""))
        return web.Response(status=200)

    async def elsewhere(self, request: web.Request) -> web.Response:
        self.redirected.append(await request.read())
        return web.Response(status=200)

    def events(self) -> list[str]:
        return [payload["event"] for payload, _, _ in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.runner.cleanup()


@pytest.fixture
def irbot_env(tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    config = tmp_path / "irbot.toml"
    config.write_text(f'escalation_usergroup = "S0ONCALL"\n[[webhooks]]\nurl = "{receiver.url}"\n'
                      f'secret = "{SECRET}"\nevents = ["declared", "resolved", "severity_changed"]\n',
                      encoding="utf-8")
    return {"IRBOT_CONFIG": str(config), "IRBOT_ALERT_TOKEN": TOKEN}


@pytest.fixture(autouse=True)
def quick_webhook_retries(harness: Harness) -> None:
    harness.irbot.deps.webhook_retry_delays = (0.1, 0.2, 0.4)


def notification(group: str, status: str = "firing", *alerts: dict[str, Any]) -> dict[str, Any]:
    alerts = alerts or ({"status": status, "labels": {"alertname": "CheckoutErrors", "severity": "critical",
                                                      "service": "checkout"},
                         "annotations": {"summary": "Checkout error rate above 5%"},
                         "generatorURL": "http://prometheus.example/graph?g0.expr=x", "fingerprint": "f1"},)
    return {"version": "4", "groupKey": group, "status": status, "receiver": "irbot", "groupLabels": {},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonAnnotations": {"summary": alerts[0]["annotations"].get("summary", "")},
            "externalURL": "http://alertmanager.example", "truncatedAlerts": 0, "alerts": list(alerts)}


async def post_alert(harness: Harness, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{harness.irbot.port}/alerts/alertmanager", data=data,
                                headers=headers) as response:
            return response.status, await response.json(content_type=None)


async def incident_count(harness: Harness) -> int:
    async with harness.irbot.deps.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Incident))).scalar_one()


async def test_firing_group_declares_once_and_later_notifications_feed_its_channel(harness: Harness) -> None:
    fake = harness.fake
    status, answer = await post_alert(harness, notification("{}:{alertname=\"CheckoutErrors\"}"))
    assert status == 200 and answer == {"action": "declared", "incident": "INC-1"}
    await harness.settle()
    [channel] = harness.incident_channels()
    assert fake.channel(channel).name == "inc-1-checkout-error-rate-above-5"
    assert "*Severity*\nSEV-1 · Critical" in harness.card(channel)
    assert "*Affected services*\ncheckout" in harness.card(channel)
    assert fake.channel(channel).members == [fake.bot_user_id], "nobody is invited by an alert"
    listed = [t for t in harness.bot_messages(channel) if "Alertmanager" in t]
    assert len(listed) == 1 and "CheckoutErrors" in listed[0] and "prometheus.example" in listed[0]
    second = notification("{}:{alertname=\"CheckoutErrors\"}", "firing",
                          {"status": "firing", "labels": {"alertname": "CheckoutErrors", "severity": "critical",
                                                         "service": "checkout"}, "annotations": {},
                           "fingerprint": "f1"},
                          {"status": "firing", "labels": {"alertname": "PaymentsLatency", "severity": "warning"},
                           "annotations": {"summary": "p99 above 2s"}, "fingerprint": "f2"})
    status, answer = await post_alert(harness, second)
    assert answer == {"action": "updated", "incident": "INC-1"}
    await harness.settle()
    listed = [t for t in harness.bot_messages(channel) if "Alertmanager" in t]
    assert len(listed) == 2 and "PaymentsLatency" in listed[1] and "CheckoutErrors" not in listed[1]
    status, answer = await post_alert(harness, notification("{}:{alertname=\"CheckoutErrors\"}", "resolved"))
    assert answer["action"] == "resolved"
    await harness.settle()
    assert any("have cleared" in t for t in harness.bot_messages(channel))
    assert len(harness.incident_channels()) == 1


async def test_two_notifications_at_once_open_one_incident(harness: Harness) -> None:
    body = notification("{}:{alertname=\"Disk\"}")
    results = await asyncio.gather(post_alert(harness, body), post_alert(harness, body))
    await harness.settle()
    assert sorted(answer["action"] for _, answer in results) in (["declared", "ignored"], ["declared", "updated"])
    assert await incident_count(harness) == 1 and len(harness.incident_channels()) == 1


async def test_wrong_token_and_malformed_bodies_store_nothing(harness: Harness) -> None:
    assert (await post_alert(harness, notification("g"), token=None))[0] == 401
    assert (await post_alert(harness, notification("g"), token="wrong"))[0] == 401
    for body in (b"{not json", b"[]", json.dumps({"version": "4"}).encode(),
                 json.dumps({**notification("g"), "version": "3"}).encode(),
                 json.dumps({**notification("g"), "alerts": "x"}).encode()):
        status, answer = await post_alert(harness, body)
        assert status == 400 and "malformed" in answer["error"]
    await harness.settle()
    assert await incident_count(harness) == 0 and harness.incident_channels() == []


async def get_health(harness: Harness) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{harness.irbot.port}/healthz") as response:
            return response.status, await response.json(content_type=None)


async def test_healthz_names_each_dependency(harness: Harness) -> None:
    assert await get_health(harness) == (200, {"status": "ok", "checks": {"database": "ok", "slack": "ok"},
                                               "scheduler": "active"})


@pytest.mark.http_only("HTTP status codes while starting")
async def test_until_slack_answers_irbot_says_starting_and_takes_no_requests(harness: Harness) -> None:
    await harness.stop_app()
    harness.fake.fail_next("auth.test", status=503, times=1_000_000)
    await harness.start_app(wait=False)  # returns with the database ready, Slack still asked
    while not harness.fake.calls_to("auth.test"):
        await asyncio.sleep(0.01)
    status, body = await get_health(harness)
    assert (status, body["status"], body["checks"]) == (503, "starting", {
        "database": "ok", "slack": "unreachable: Slack answered HTTP 503"})
    assert (await harness.slack.command(harness.user("alice"), "/incident", "declare Down")).status == 503
    assert (await post_alert(harness, b"{not json"))[0] == 503
    harness.fake.faults.clear()  # Slack answers again
    await harness.irbot.started()
    assert (await get_health(harness))[0] == 200
    assert (await post_alert(harness, b"{not json"))[0] == 400  # read now


async def test_metrics_show_incidents_by_severity(harness: Harness) -> None:
    await harness.declare("alice", "One", values={"Severity": "SEV-1"})
    await harness.declare("alice", "Two", values={"Severity": "SEV-2"})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{harness.irbot.port}/metrics") as response:
            text = await response.text()
    assert 'irbot_incidents_declared_total{drill="false",severity="SEV-1"} 1.0' in text
    assert 'irbot_incidents_open{severity="SEV-2"} 1.0' in text
    assert 'irbot_slack_api_calls_total{method="conversations.create",outcome="ok"}' in text
    assert "irbot_request_duration_seconds_bucket" in text and "irbot_scheduler_active 1.0" in text


async def test_webhooks_are_signed_retried_once_and_private_incidents_reduced(harness: Harness,
                                                                               receiver: Receiver) -> None:
    receiver.fail_next = 1
    alice = harness.user("alice")
    channel = await harness.declare("alice", "Hooked")
    for _ in range(50):
        if receiver.received:
            break
        await asyncio.sleep(0.05)
    [(payload, signature, body)] = receiver.received
    assert payload["event"] == "declared" and payload["incident"]["id"] == "INC-1"
    assert payload["incident"]["title"] == "Hooked" and payload["incident"]["channel"] == channel.name
    timestamp = receiver.timestamps[0]
    assert abs(int(timestamp) - time.time()) < 60, "a receiver can refuse old deliveries"
    signed = timestamp.encode() + b"." + body
    assert signature == "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "ok"})
    await harness.settle()
    assert receiver.events() == ["declared", "resolved"], "status_changed is not subscribed; 503 retried once"
    await harness.declare("alice", "Secret breach", values={"Incident type": "Security"})
    private = receiver.received[-1][0]
    assert private["event"] == "declared" and set(private["incident"]) == {"id", "severity", "status"}


async def test_a_slow_webhook_receiver_never_slows_slack(harness: Harness, receiver: Receiver) -> None:
    receiver.delay = 2.0
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "declare Slow hooks")
    await harness.settle()
    view = harness.slack.open_view(alice)
    response = await harness.slack.submit_view(alice, view["id"], {})
    assert response.elapsed < 1.0
    await harness.settle()
    assert receiver.events() == ["declared"]


async def test_a_webhook_owed_when_irbot_stops_is_delivered_after_the_restart(start_harness, irbot_env,  # noqa: ANN001
                                                                              receiver: Receiver) -> None:
    """Retries live in the database with the change, not in a process's memory."""
    clock = FakeClock()
    harness = await start_harness(env=irbot_env, clock=clock)
    harness.irbot.deps.webhook_retry_delays = (60.0, 60.0)  # left to the sweep, not timed in memory
    receiver.fail_next = 1
    await harness.declare("alice", "Hooked across a restart")
    await harness.stop_app()
    assert receiver.events() == [], "refused once; the retry is due in a minute"
    await harness.start_app()
    clock.advance(timedelta(minutes=2))
    await harness.deliver_owed()
    assert receiver.events() == ["declared"], "delivered once, by the restarted irbot"


async def test_a_redirecting_webhook_receiver_is_not_followed_and_is_given_up(harness: Harness,
                                                                              receiver: Receiver) -> None:
    """Following a redirect would send the signed body somewhere nobody configured; retries are bounded."""
    receiver.redirect = True
    await harness.declare("alice", "Redirected")
    await harness.settle()
    for _ in range(100):
        async with harness.irbot.deps.db.reader() as session:
            states = (await session.execute(select(OutboxItem.state).where(OutboxItem.what == "webhook:declared"))
                      ).scalars().all()
        if states == ["failed"]:
            break
        await asyncio.sleep(0.05)
    assert states == ["failed"], "tried a bounded number of times, then given up"
    assert receiver.redirected == [] and receiver.received == []
