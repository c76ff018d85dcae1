"""What both fake trackers share: the server, the faults, and signed webhook deliveries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    status: int  # 429, 500, 503 …; 0: do the work, then drop the connection (the answer is lost); -1: held
    retry_after: float | None = None
    delay: float = 0.0  # held: answer this late (the caller may have died meanwhile) …
    lands: bool = True  # … and then do the work (True) or never do it (False)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int  # what irbot answered


@dataclass
class FakeServer:
    """A real HTTP server; ``faults`` are applied to the next requests, ``down`` refuses them all."""

    faults: list[Fault] = field(default_factory=list)
    down: bool = False  # answer 503 to everything (an outage), until set back
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) in order
    request_times: list[float] = field(default_factory=list)  # time.monotonic() of each request
    webhook_url: str | None = None  # where the tracker sends its webhooks (irbot's /tracker/webhook)
    webhook_secret: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    port: int | None = None
    _runner: web.AppRunner | None = None
    _sending: set[asyncio.Task[None]] = field(default_factory=set)
    _holding: int = 0

    @property
    def api_url(self) -> str:
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, times: int = 1, *, retry_after: float | None = None) -> None:
        self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def hold_next(self, seconds: float, *, lands: bool = True) -> None:
        """The next request waits ``seconds`` before it takes effect (``lands``) or is dropped unanswered."""
        self.faults.append(Fault(-1, delay=seconds, lands=lands))

    @property
    def holding(self) -> int:
        """Requests being held right now."""
        return self._holding

    def lose_next_answer(self, times: int = 1) -> None:
        """The next requests are done, but their answers never arrive (the connection drops)."""
        self.fail_next(0, times)

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> "FakeServer":
        app = web.Application(middlewares=[self._faulty])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self.webhooks_sent()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _faulty(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        self.request_times.append(time.monotonic())
        if self.down:
            return self.error(503, "Service Unavailable")
        fault = self.faults.pop(0) if self.faults else None
        if fault is None:
            return await handler(request)
        if fault.status == -1:
            await request.read()  # the request has arrived whole; its sender may die from now on
            self._holding += 1
            try:
                await asyncio.sleep(fault.delay)
            finally:
                self._holding -= 1
            if fault.lands:
                return await handler(request)
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("dropped (fault injected)")
        if fault.status == 0:
            await handler(request)  # the work is done …
            assert request.transport is not None
            request.transport.close()  # … and the answer lost
            raise ConnectionResetError("answer lost (fault injected)")
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return self.error(fault.status, "injected fault", headers=headers)

    def error(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        raise NotImplementedError

    # ---- webhooks to irbot ----------------------------------------------------------------------
    def signature(self, body: bytes, secret: str | None = None) -> str:
        key = (secret if secret is not None else self.webhook_secret or "").encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def send_soon(self, headers: dict[str, str], payload: dict[str, Any]) -> None:
        """Deliver a webhook in the background, as a tracker does after the change it reports."""
        if self.webhook_url is None:
            return
        task = asyncio.get_running_loop().create_task(self.send(headers, payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def send(self, headers: dict[str, str], payload: dict[str, Any], *,
                   secret: str | None = None) -> Delivery:
        assert self.webhook_url is not None, "set webhook_url first"
        body = json.dumps(payload).encode()
        signed = {"Content-Type": "application/json", **headers, self.signature_header: self.signature(body, secret)}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(self.webhook_url, data=body, headers=signed) as response:
                delivery = Delivery(signed, body, response.status)
        self.deliveries.append(delivery)
        return delivery

    async def webhooks_sent(self) -> None:
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    signature_header = "X-Hub-Signature-256"
