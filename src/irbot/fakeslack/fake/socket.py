"""Socket Mode: ``apps.connections.open``, the WebSocket, envelopes and acks, as Slack documents them.

An app with Socket Mode enabled gets no HTTP requests: it calls ``apps.connections.open`` with its
app-level token (``xapp-…``), connects to the single-use URL it gets back, receives ``hello``, then
envelopes — ``{"envelope_id", "type": "slash_commands"|"interactive"|"events_api", "payload",
"accepts_response_payload", …}`` — and answers each with ``{"envelope_id", "payload"?}`` within 3 s.
Slack refreshes connections (``disconnect`` with reason ``warning``, ``refresh_requested``, or
``link_disabled`` when Socket Mode is turned off) and connections drop; the app reconnects itself.

Sources: docs.slack.dev/apis/events-api/using-socket-mode (envelope, ack, hello, disconnect shapes);
python-slack-sdk's ``tests/slack_sdk/socket_mode/mock_socket_mode_server.py`` (real envelopes:
``retry_attempt: 0`` and ``retry_reason: ""`` on first deliveries); slack-limits.md (Tier 1).
Not known from the docs, so chosen here: the reason given when an unacknowledged envelope is retried
(``http_timeout``, as over HTTP) and how long Slack keeps a connection open after a ``disconnect``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .apiutil import handles
from .model import Json

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

ACK_DEADLINE = 3.0
MAX_CONNECTIONS = 10  # per app, per Slack's docs
DISCONNECT_REASONS = ("warning", "refresh_requested", "link_disabled")
# Interactive payloads whose ack may carry an answer (response_action, options); the rest are ignored.
ANSWERING_INTERACTIONS = ("view_submission", "block_suggestion", "dialog_suggestion")


@dataclass
class Ack:
    envelope_id: str
    payload: Json | None
    elapsed: float


@dataclass
class Connection:
    number: int
    ws: web.WebSocketResponse
    opened_at: float = field(default_factory=time.monotonic)
    retiring: bool = False  # told to disconnect; Slack stops routing to it
    dropped: bool = False

    @property
    def open(self) -> bool:
        return not self.ws.closed and not self.dropped


class SocketMode:
    """The fake's Socket Mode endpoint for the one app it hosts."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.enabled = False  # the app setting (manifest `socket_mode_enabled`): payloads go over the socket
        self.app_token = "xapp-1-A0IRBOT-1-fakeapptoken"
        self.connections: list[Connection] = []
        self.envelopes: list[Json] = []         # every envelope sent, in order
        self.acks: list[Ack] = []               # every ack received in time
        self.unacked: list[str] = []            # envelope_ids whose ack never came within the deadline
        self.retire_after = 10.0                # Slack closes a connection ~10 s after `disconnect`
        self.connect_wait = 10.0                # how long a person's request waits for a connection
        self._tickets: set[str] = set()
        self._waiting: dict[str, tuple[asyncio.Future[Ack], float]] = {}
        self._count = 0
        self._closers: set[asyncio.Task] = set()

    # ---- apps.connections.open ----------------------------------------
    def issue_url(self) -> str:
        ticket = secrets.token_hex(12)
        self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.fake.port}/socket/{ticket}"

    # ---- the WebSocket ------------------------------------------------
    async def serve(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:  # single use: a reconnect must call apps.connections.open again
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        self._count += 1
        conn = Connection(self._count, ws)
        self.connections.append(conn)
        live = self.open_connections()
        if len(live) > MAX_CONNECTIONS:
            self.fake.violation(f"Socket Mode: {len(live)} connections open at once (Slack allows {MAX_CONNECTIONS})")
        await ws.send_json({"type": "hello", "num_connections": len(live),
                            "debug_info": {"host": f"applink-fake-{conn.number}", "build_number": 1,
                                           "approximate_connection_time": 18060},
                            "connection_info": {"app_id": self.fake.app_id}})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self._receive(conn, msg.data)
        return ws

    def _receive(self, conn: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            self.fake.violation(f"Socket Mode: connection {conn.number} sent something that is not JSON: {data[:80]!r}")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not envelope_id:
            self.fake.violation(f"Socket Mode: a message without envelope_id: {data[:80]!r}")
            return
        waiting = self._waiting.pop(envelope_id, None)
        if waiting is None:
            if envelope_id not in self.unacked:  # a late ack is already counted as missing
                self.fake.violation(f"Socket Mode: ack for unknown or already acknowledged envelope {envelope_id}")
            return
        future, sent_at = waiting
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            self.fake.violation(f"Socket Mode: ack payload for {envelope_id} is not an object")
            payload = None
        ack = Ack(envelope_id, payload, time.monotonic() - sent_at)
        self.acks.append(ack)
        if not future.done():
            future.set_result(ack)

    # ---- what Slack sends -------------------------------------------------
    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    @property
    def connected(self) -> bool:
        return any(not c.retiring for c in self.open_connections())

    async def wait_connected(self, timeout: float | None = None, *, after: int = 0) -> Connection:
        """The newest usable connection (numbered above ``after``), waiting up to ``timeout`` for one."""
        deadline = time.monotonic() + (self.connect_wait if timeout is None else timeout)
        while True:
            usable = [c for c in self.open_connections() if not c.retiring and c.number > after]
            if usable:
                return usable[-1]
            if time.monotonic() > deadline:
                raise TimeoutError("the app is not connected over Socket Mode")
            await asyncio.sleep(0.02)

    async def deliver(self, kind: str, payload: Json, *, retry_attempt: int = 0, retry_reason: str = "",
                      timeout: float = ACK_DEADLINE, wait_for_connection: bool = True) -> Ack | None:
        """Send one envelope; the ack, or None when none came within ``timeout``.

        Raises ConnectionError when the app has no connection (after waiting, if asked to).
        """
        if wait_for_connection:
            try:
                conn = await self.wait_connected()
            except TimeoutError as exc:
                raise ConnectionError(str(exc)) from None
        else:  # prefer a fresh connection; one told to disconnect still works until it closes
            live = self.open_connections()
            usable = [c for c in live if not c.retiring] or live
            if not usable:
                raise ConnectionError("the app is not connected over Socket Mode")
            conn = usable[-1]
        envelope: Json = {"envelope_id": str(uuid.uuid4()), "type": kind, "payload": payload,
                          "accepts_response_payload": accepts_response_payload(kind, payload)}
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiting[envelope["envelope_id"]] = (future, time.monotonic())
        self.envelopes.append(envelope)
        try:
            await conn.ws.send_str(json.dumps(envelope))
        except (ConnectionError, RuntimeError) as exc:
            conn.dropped = True
            self._waiting.pop(envelope["envelope_id"], None)
            raise ConnectionError(f"the Socket Mode connection broke: {exc}") from None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            self._waiting.pop(envelope["envelope_id"], None)
            self.unacked.append(envelope["envelope_id"])
            return None

    # ---- connection trouble (tests drive these) ------------------------------
    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Tell the current connection(s) to go away, as Slack does before it recycles them."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"Slack's disconnect reasons are {DISCONNECT_REASONS}, not {reason!r}")
        for conn in [c for c in self.open_connections() if not c.retiring]:
            conn.retiring = True
            await conn.ws.send_json({"type": "disconnect", "reason": reason,
                                     "debug_info": {"host": f"applink-fake-{conn.number}"}})
            task = asyncio.get_running_loop().create_task(self._close_later(conn))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    async def drop(self) -> None:
        """The network drops every connection: no close frame, the TCP connection just ends."""
        for conn in self.open_connections():
            conn.dropped = True
            transport = conn.ws._req.transport if conn.ws._req is not None else None  # noqa: SLF001
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.retire_after)
        if conn.open:
            await conn.ws.close()

    async def close(self) -> None:
        for task in list(self._closers):
            task.cancel()
        await asyncio.gather(*self._closers, return_exceptions=True)
        for conn in self.open_connections():
            await conn.ws.close()


def accepts_response_payload(kind: str, payload: Json) -> bool:
    if kind == "slash_commands":
        return True
    return kind == "interactive" and payload.get("type") in ANSWERING_INTERACTIONS


@handles("apps.connections.open")
def apps_connections_open(fake: FakeSlack, args: Json) -> Json:
    # server.api checks the token first: an app-level xapp- token, not the bot's.
    return {"url": fake.socket.issue_url()}
