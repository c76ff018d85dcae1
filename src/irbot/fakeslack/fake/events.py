"""Events API delivery: signed ``event_callback`` POSTs with Slack's retry rules (or, for a Socket
Mode app, ``events_api`` envelopes over its WebSocket, acknowledged within the same deadline)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

import aiohttp

from .model import Json

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

ACK_DEADLINE = 3.0  # Slack counts a slower answer as a failure and retries
MAX_RETRIES = 3


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``, as Slack signs requests."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, content_type: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(secret, ts, body),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


class EventDelivery:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.emitted: list[Json] = []     # every envelope, delivered or not
        self.delivered: list[Json] = []   # envelopes that were sent to app_url
        self.attempts: list[Json] = []    # {event_id, retry_num, status|None, reason}
        self._by_id: dict[str, Json] = {}
        self._pending: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False  # after close(), nothing new is delivered (no session left behind)
        self._counter = 0
        self.retry_delays: tuple[float, ...] = (0.0, 0.0, 0.0)  # Slack waits ~0s, 1 min, 5 min
        self.ack_deadline = ACK_DEADLINE  # tests may shorten it to exercise http_timeout retries

    def envelope(self, event: Json) -> Json:
        self._counter += 1
        fake = self.fake
        event_id = f"Ev{self._counter:010d}"
        return {
            "token": fake.verification_token,
            "team_id": fake.team_id,
            "api_app_id": fake.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": fake.team_id, "user_id": fake.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
            "event_context": f"4-fake-{event_id}",
        }

    def emit(self, event: Json) -> Json:
        env = self.envelope(event)
        self.emitted.append(env)
        self._by_id[env["event_id"]] = env
        if self.fake.app_url and self.fake.deliver_events:
            task = asyncio.get_running_loop().create_task(self._deliver(env))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return env

    async def _deliver(self, env: Json) -> None:
        self.delivered.append(env)
        body = json.dumps(env).encode()
        status, reason = await self.post(env["event_id"], body, None, None)
        for retry in range(1, MAX_RETRIES + 1):
            if status is not None and 200 <= status < 300:
                return
            await asyncio.sleep(self.retry_delays[min(retry - 1, len(self.retry_delays) - 1)])
            status, reason = await self.post(env["event_id"], body, retry, reason)

    async def post(self, event_id: str, body: bytes, retry_num: int | None, reason: str | None) -> tuple[int | None, str]:
        """POST once; returns (status or None, the retry reason a failure would give)."""
        if self.fake.socket.enabled:
            return await self._send_envelope(event_id, body, retry_num, reason)
        headers = signed_headers(self.fake.signing_secret, body, "application/json")
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = reason or "http_error"
        status: int | None = None
        next_reason = "http_error"
        try:
            timeout = aiohttp.ClientTimeout(total=self.ack_deadline)
            async with self._client().post(self.fake.app_url, data=body, headers=headers, timeout=timeout) as resp:
                await resp.read()
                status = resp.status
        except asyncio.TimeoutError:
            next_reason = "http_timeout"
        except aiohttp.ClientError:
            next_reason = "http_error"
        self.attempts.append({"event_id": event_id, "retry_num": retry_num, "status": status, "reason": reason})
        return status, next_reason

    async def _send_envelope(self, event_id: str, body: bytes, retry_num: int | None,
                             reason: str | None) -> tuple[int | None, str]:
        """Socket Mode: an acknowledged envelope counts as a 200; no connection or no ack, as a failure."""
        status: int | None = None
        next_reason = "http_timeout"  # Slack's reason for an unacknowledged envelope is not documented
        try:
            ack = await self.fake.socket.deliver("events_api", json.loads(body), retry_attempt=retry_num or 0,
                                                 retry_reason=(reason or "http_error") if retry_num else "",
                                                 timeout=self.ack_deadline, wait_for_connection=False)
            status = 200 if ack is not None else None
        except ConnectionError:
            next_reason = "connection_failed"
        self.attempts.append({"event_id": event_id, "retry_num": retry_num, "status": status, "reason": reason})
        return status, next_reason

    async def redeliver(self, event_id: str, reason: str = "http_timeout") -> int | None:
        """Send an envelope again as Slack's retry would (same body, next X-Slack-Retry-Num)."""
        env = self._by_id[event_id]
        tries = sum(1 for a in self.attempts if a["event_id"] == event_id)
        status, _ = await self.post(event_id, json.dumps(env).encode(), max(1, tries), reason)
        return status

    async def drain(self) -> None:
        # Deliveries can cause more events (the bot reacts), so loop until quiet.
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise aiohttp.ClientConnectionError("the fake Slack has stopped delivering events")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        self._closed = True
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def find(self, event_id: str) -> Json | None:
        return self._by_id.get(event_id)

    def events_of_type(self, kind: str) -> list[Json]:
        return [e for e in self.emitted if e["event"].get("type") == kind or e["event"].get("subtype") == kind]


