"""What the fake Slack's own tests share: the fake, a Web API client, and a tiny app it sends to."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from irbot.fakeslack import FakeSlack, SlackClient

SECRET = "test-signing-secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(signing_secret=SECRET)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def web_client(fake: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(base_url=fake.api_url, token="xoxb-test")
    yield client
    if client.session is not None:
        await client.session.close()


class Receiver:
    """A tiny app: verifies Slack's signature, records bodies, answers with `answer(body)`."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answer: Callable[[bytes], web.Response] = lambda body: web.Response(status=200)
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.delays: list[float] = []  # seconds to stall before answering, one per request

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401)
        self.requests.append((dict(request.headers), body))
        return self.answer(body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack/events", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"

    def payloads(self) -> list[dict[str, Any]]:
        out = []
        for _, body in self.requests:
            if body.startswith(b"{"):
                out.append(json.loads(body))
            else:
                form = parse_qs(body.decode())
                out.append(json.loads(form["payload"][0]) if "payload" in form else {k: v[0] for k, v in form.items()})
        return out


@pytest.fixture
async def receiver(fake: FakeSlack) -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    fake.app_url = r.url
    yield r
    await fake.events_delivered()
    assert r.runner is not None
    await r.runner.cleanup()


@pytest.fixture
async def slack(fake: FakeSlack, receiver: Receiver) -> AsyncIterator[SlackClient]:
    async with SlackClient(fake, app_url=receiver.url, signing_secret=SECRET) as client:
        yield client
