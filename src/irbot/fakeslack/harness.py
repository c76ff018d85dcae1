"""irbot and the fake Slack in one process: what the test suite and ``irbot demo`` drive.

The harness runs the real app (HTTP server, database, templates, Bolt) with ``SLACK_API_URL``
pointed at :class:`FakeSlack`, and a :class:`SlackClient` that reaches the app only through
signed HTTP requests to ``/slack/events``, the way Slack does — or, with ``socket_mode=True``,
through Socket Mode envelopes over the WebSocket irbot opens to the fake.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

from irbot.app import Irbot, create_app
from irbot.config import load_settings
from irbot.deps import system_clock
from irbot.services import outbox
from irbot.fakeslack.fake_slack import FakeSlack
from irbot.fakeslack.signed_client import SlackClient

SIGNING_SECRET = "irbot-test-signing-secret"
BOT_TOKEN = "xoxb-irbot-test-token"


class FakeClock:
    """A clock tests move by hand: irbot computes and checks due times with it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or system_clock()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Harness:
    database_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = system_clock
    socket_mode: bool = False
    fake: FakeSlack = field(init=False)
    irbot: Irbot = field(init=False)
    slack: SlackClient = field(init=False)

    async def start(self) -> "Harness":
        self.fake = FakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
        await self.fake.start()
        await self.start_app()
        return self

    async def start_app(self, *, wait: bool = True) -> None:
        """(Re)start irbot on the same database and fake Slack, as after a restart (``wait=False``:
        return while start-up still reaches Slack; ``irbot.started()`` waits for the rest)."""
        # Socket Mode needs the app-level token and no signing secret (nothing arrives over HTTP).
        secret = {"SLACK_APP_TOKEN": self.fake.socket_app_token} if self.socket_mode else {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, **secret,
               "SLACK_API_URL": self.fake.api_url, "DATABASE_URL": self.database_url, **self.env}
        self.fake.socket.enabled = self.socket_mode
        self.irbot = create_app(load_settings(env), clock=self.clock, retry_base_delay=0.01)
        self.irbot.deps.setup_retry_delays = (0.2, 0.5, 1.0)
        self.irbot.socket_ping_interval = 2.0  # a dropped connection is noticed within 2 s (Bolt: 10 s)
        connections = len(self.fake.socket.connections)
        port = await self.irbot.start(port=0, host="127.0.0.1", socket_mode=self.socket_mode, wait=wait)
        if self.socket_mode and wait:
            await self.fake.socket.wait_connected(after=connections)
        app_url = f"http://127.0.0.1:{port}/slack/events"
        self.fake.app_url = app_url
        self.slack = SlackClient(self.fake, app_url=app_url, signing_secret=SIGNING_SECRET)

    async def stop_app(self) -> None:
        await self.settle()
        await self.irbot.stop()

    async def stop(self) -> None:
        await self.stop_app()
        await self.fake.stop()

    async def settle(self, rounds: int = 20) -> None:
        """Wait until irbot's background work and the fake's event deliveries have all finished."""
        for _ in range(rounds):
            await self.irbot.deps.tasks.drain()
            await self.fake.events_delivered()
            await asyncio.sleep(0)
            if self.irbot.deps.tasks.pending == 0:
                return

    async def fire_due_reminders(self) -> int:
        """What the scheduler does when its timer goes off, at the (fake) clock's time."""
        fired = await self.irbot.deps.scheduler.fire_due()
        await self.settle()
        return fired

    async def deliver_owed(self) -> int:
        """What the outbox sweep does every few seconds, at the (fake) clock's time."""
        delivered = await outbox.deliver_pending(self.irbot.deps)
        await self.settle()
        return delivered

    def bot_messages(self, channel: str) -> list[str]:
        """The text of every message irbot posted in a channel, oldest first."""
        return [self.fake.text_of(m) for m in self.fake.messages(channel) if m.get("bot_id")]

    def user(self, name: str) -> Any:
        return self.fake.user(name)

    async def declare(self, who: str, title: str, *, channel: str = "general",
                      values: Mapping[str, Any] | None = None) -> Any:
        """A person runs ``/incident declare`` and submits the form; returns the new channel."""
        person = self.user(who)
        before = set(self.incident_channels())
        response = await self.slack.command(person, "/incident", f"declare {title}", channel=channel)
        assert response.status == 200, response.body
        await self.settle()
        view = self.slack.open_view(person)
        assert view is not None, "the declare form did not open"
        await self.slack.submit_view(person, view["id"], dict(values or {}))
        await self.settle()
        created = [c for c in self.incident_channels() if c not in before]
        assert len(created) == 1, f"expected one new channel, got {len(created)}"
        return self.fake.channel(created[0])

    def pinned(self, channel: str) -> list[dict[str, Any]]:
        """The pinned messages as they read now (edits included)."""
        return [self.fake.message(channel, item["message"]["ts"]) for item in self.fake.pins(channel)]

    def card(self, channel: str) -> str:
        """The text of the pinned incident card, as people read it now."""
        [card] = self.pinned(channel)
        return self.fake.text_of(card)

    def incident_channels(self) -> list[str]:
        """Channels irbot created, oldest first."""
        bot = self.fake.bot_user_id
        return [c.id for c in self.fake.channels.values() if c.creator == bot and not c.is_im]


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'irbot.db'}"
