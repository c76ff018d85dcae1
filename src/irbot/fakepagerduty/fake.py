"""The fake PagerDuty, built from PagerDuty's public documentation.

Events API v2: ``POST /v2/enqueue`` takes one JSON event (``routing_key``, ``event_action`` trigger /
acknowledge / resolve, ``dedup_key``, and for a trigger a ``payload`` with ``summary``, ``source``
and ``severity`` of critical / error / warning / info, optional ``links``, ``images``, ``client``,
``client_url``). It answers 202 ``{"status": "success", "message": "Event processed", "dedup_key"}``;
400 ``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`` for an
event that breaks the rules; 429 when the routing key sends too fast; 5xx when PagerDuty is in
trouble. A trigger for a dedup key whose incident is open is folded into it (no new incident).

Webhooks V3: :meth:`FakePagerDuty.acknowledge` and :meth:`FakePagerDuty.resolve_in_pagerduty`
POST ``{"event": {"id", "event_type", "resource_type", "occurred_at", "agent", "data"}}`` to a
subscription URL with ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`` (several
signatures, comma-separated, while a secret is rotated).

Faults: :meth:`fail_next` (answer a status instead of taking the event), :meth:`throttle_every`
(every n-th call answered 429), :meth:`lose_next_answer` (take the event, then drop the
connection before answering), and ``latency`` (seconds before each answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp
from aiohttp import web

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


def sign_webhook(body: bytes, *secrets_: str) -> str:
    """The ``X-PagerDuty-Signature`` header for ``body``: one ``v1=<hex>`` per secret, comma-separated."""
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets_)


def routing_key() -> str:
    """A well-formed integration key (32 characters), as PagerDuty issues them."""
    return secrets.token_hex(16)


@dataclass
class PagerDutyIncident:
    routing_key: str
    dedup_key: str
    summary: str
    severity: str
    status: str = "triggered"  # triggered | acknowledged | resolved
    number: int = 0
    id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)  # every event folded into it


@dataclass
class Fault:
    status: int
    count: int


class FakePagerDuty:
    def __init__(self, *, services: dict[str, str] | None = None, latency: float = 0.0) -> None:
        """``services``: routing key → service name; keys not listed are refused with 400."""
        self.services: dict[str, str] = dict(services or {})
        self.latency = latency
        self.calls = 0  # every POST to /v2/enqueue, answered or not
        self.events: list[dict[str, Any]] = []  # every event PagerDuty took (202 or an answer lost)
        self.incidents: list[PagerDutyIncident] = []
        self._faults: list[Fault] = []
        self._throttle_every = 0
        self._lose_next = 0
        self._holds: list[tuple[float, bool]] = []
        self.held = 0  # held calls that have arrived
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._webhook_seq = 0

    # ---- running ----------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> "FakePagerDuty":
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def events_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    def add_service(self, name: str, key: str | None = None) -> str:
        key = key or routing_key()
        self.services[key] = name
        return key

    # ---- faults ------------------------------------------------------------------------------------
    def fail_next(self, status: int = 500, count: int = 1) -> None:
        self._faults.append(Fault(status, count))

    def throttle_every(self, n: int) -> None:
        """Every ``n``-th call is answered 429 (0: never)."""
        self._throttle_every = n

    def hold_next(self, seconds: float, *, lands: bool = True) -> None:
        """The next call waits ``seconds``; then PagerDuty takes the event (``lands``) or the
        connection drops without it (as if the sender died before its request was complete)."""
        self._holds.append((seconds, lands))

    def lose_next_answer(self, count: int = 1) -> None:
        """Take the next event(s), then drop the connection: the sender never hears the 202."""
        self._lose_next += count

    # ---- what happened -----------------------------------------------------------------------------
    def events_for(self, dedup_key: str, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("dedup_key") == dedup_key and (action is None or e["event_action"] == action)]

    def incident(self, dedup_key: str) -> PagerDutyIncident | None:
        found = [i for i in self.incidents if i.dedup_key == dedup_key]
        return found[-1] if found else None

    # ---- the Events API v2 ---------------------------------------------------------------------------
    async def _enqueue(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        raw = await request.read()  # before any wait: a sender that dies meanwhile has sent it all
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._holds:
            seconds, lands = self._holds.pop(0)
            self.held += 1
            await asyncio.sleep(seconds)
            if not lands:
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
        if self._faults:
            fault = self._faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self._faults.pop(0)
            return _fault(fault.status)
        if self._throttle_every and self.calls % self._throttle_every == 0:
            return _fault(429)
        try:
            event = json.loads(raw)
        except ValueError:
            return _invalid(["Event object is not valid JSON"])
        errors = self._check(event)
        if errors:
            return _invalid(errors)
        dedup = event.get("dedup_key") or secrets.token_hex(16)
        event = {**event, "dedup_key": dedup}
        self.events.append(event)
        self._apply(event)
        if self._lose_next:
            self._lose_next -= 1
            if request.transport is not None:
                request.transport.close()  # the event is taken; the answer never arrives
            return web.Response(status=202)
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": dedup},
                                 status=202)

    def _check(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event object is invalid"]
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        elif key not in self.services:
            errors.append("Invalid routing key")
        action = event.get("event_action")
        if action not in ACTIONS:
            errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > MAX_DEDUP_KEY):
            errors.append(f"'dedup_key' must be a string of at most {MAX_DEDUP_KEY} characters")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required for acknowledge and resolve events")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                for name in ("summary", "source"):
                    if not isinstance(payload.get(name), str) or not payload[name]:
                        errors.append(f"'payload.{name}' is missing or blank")
                if isinstance(payload.get("summary"), str) and len(payload["summary"]) > MAX_SUMMARY:
                    errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
                if "custom_details" in payload and not isinstance(payload["custom_details"], (dict, str)):
                    errors.append("'payload.custom_details' must be an object")
            links = event.get("links", [])
            if not isinstance(links, list) or any(not isinstance(l, dict) or not isinstance(l.get("href"), str)
                                                  for l in links):
                errors.append("'links' must be a list of objects with an 'href'")
        return errors

    def _apply(self, event: dict[str, Any]) -> None:
        key, dedup, action = event["routing_key"], event["dedup_key"], event["event_action"]
        open_ = next((i for i in self.incidents if i.routing_key == key and i.dedup_key == dedup
                      and i.status != "resolved"), None)
        if action == "trigger":
            if open_ is None:
                number = len(self.incidents) + 1
                open_ = PagerDutyIncident(key, dedup, event["payload"]["summary"], event["payload"]["severity"],
                                          number=number, id=f"PFAKE{number:04d}")
                self.incidents.append(open_)
            open_.events.append(event)
        elif open_ is not None:
            open_.events.append(event)
            open_.status = "acknowledged" if action == "acknowledge" else "resolved"

    # ---- webhooks V3 -------------------------------------------------------------------------------
    async def acknowledge(self, dedup_key: str, *, url: str, secret: str | list[str], agent: str = "Dana Oncall",
                          event_id: str | None = None) -> aiohttp.ClientResponse:
        """Someone acknowledges the incident in PagerDuty; the subscription hears of it."""
        return await self._webhook("incident.acknowledged", "acknowledged", dedup_key, url=url, secret=secret,
                                   agent=agent, event_id=event_id)

    async def resolve_in_pagerduty(self, dedup_key: str, *, url: str, secret: str | list[str],
                                   agent: str = "Dana Oncall", event_id: str | None = None) -> aiohttp.ClientResponse:
        return await self._webhook("incident.resolved", "resolved", dedup_key, url=url, secret=secret,
                                   agent=agent, event_id=event_id)

    def webhook_body(self, event_type: str, status: str, dedup_key: str, *, agent: str,
                     event_id: str | None = None) -> bytes:
        incident = self.incident(dedup_key)
        if incident is not None:
            incident.status = status
        self._webhook_seq += 1
        service = self.services.get(incident.routing_key, "Service") if incident else "Service"
        body = {"event": {
            "id": event_id or f"01FAKE{self._webhook_seq:020d}",
            "event_type": event_type, "resource_type": "incident",
            "occurred_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "agent": {"id": "PUSER01", "type": "user_reference", "summary": agent,
                      "html_url": "https://fake.pagerduty.com/users/PUSER01"},
            "client": None,
            "data": {"id": incident.id if incident else "PUNKNOWN", "type": "incident",
                     "number": incident.number if incident else 0, "status": status,
                     "incident_key": dedup_key, "title": incident.summary if incident else "",
                     "urgency": "high",
                     "service": {"id": "PSERV01", "type": "service_reference", "summary": service}},
        }}
        return json.dumps(body).encode()

    async def _webhook(self, event_type: str, status: str, dedup_key: str, *, url: str, secret: str | list[str],
                       agent: str, event_id: str | None) -> aiohttp.ClientResponse:
        body = self.webhook_body(event_type, status, dedup_key, agent=agent, event_id=event_id)
        keys = [secret] if isinstance(secret, str) else list(secret)
        return await post_webhook(url, body, sign_webhook(body, *keys) if keys else None)


async def post_webhook(url: str, body: bytes, signature: str | None) -> aiohttp.ClientResponse:
    headers = {"Content-Type": "application/json", "User-Agent": "PagerDuty-Webhook/V3.0"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response


def _invalid(errors: list[str]) -> web.Response:
    return web.json_response({"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                             status=400)


def _fault(status: int) -> web.Response:
    if status == 429:
        return web.json_response({"status": "throttle event", "message": "Requests for this service are arriving "
                                  "too quickly.  Please retry later."}, status=429)
    if status == 400:
        return _invalid(["Event object is invalid"])
    return web.Response(status=status, text="PagerDuty is having trouble; try again")
