"""Real ``irbot serve`` processes against the fake Slack, which runs in the test's own event loop.

A :class:`Scene` holds the fake Slack, the irbot processes it starts (on one database) and the
signed client people use; it waits for things by polling what people would see, since the
processes' background work cannot be awaited from here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from irbot.store.db import sync_url
from irbot.fakeslack.fake_slack import Channel, FakeSlack
from irbot.fakeslack.harness import BOT_TOKEN, SIGNING_SECRET
from tests.rigs.processes import IrbotProcess, RoundRobin, irbot_env
from irbot.fakeslack.signed_client import SlackClient

# Short clocks so reminders can be watched in seconds; the other severities keep their defaults.
SETTINGS_TOML = """\
[[severities]]
key = "SEV-1"
update_every = "3s"

[[severities]]
key = "SEV-2"

[[severities]]
key = "SEV-3"

[[severities]]
key = "SEV-4"
"""
CADENCE = 3.0  # SEV-1 update_every above, in seconds


class KnownGap(AssertionError):
    """A consistency gap in irbot that the test documents (tests expecting it use xfail(raises=KnownGap))."""


def gap(condition: object, message: str) -> None:
    if not condition:
        raise KnownGap(message)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Scene:
    def __init__(self, fake: FakeSlack, database_url: str, settings: Path, log_dir: Path) -> None:
        self.fake = fake
        self.database_url = database_url
        self.settings = settings
        self.log_dir = log_dir
        self.processes: list[IrbotProcess] = []
        self.proxies: list[RoundRobin] = []
        self.slack = SlackClient(fake, signing_secret=SIGNING_SECRET)
        self._engine: Engine | None = None

    # ---- processes ------------------------------------------------------------------
    def process(self, name: str = "irbot", extra_env: Mapping[str, str] | None = None) -> IrbotProcess:
        env = irbot_env(api_url=self.fake.api_url, database_url=self.database_url, bot_token=BOT_TOKEN,
                        signing_secret=SIGNING_SECRET, config=self.settings, **(extra_env or {}))
        bot = IrbotProcess(env=env, log_dir=self.log_dir, name=name)
        self.processes.append(bot)
        return bot

    async def start(self, name: str = "irbot", extra_env: Mapping[str, str] | None = None) -> IrbotProcess:
        """One irbot process, with Slack's Request URL pointing at it."""
        bot = await self.process(name, extra_env).start()
        self.point_at(bot.events_url)
        return bot

    async def replicas(self, count: int = 2) -> tuple[list[IrbotProcess], RoundRobin]:
        """``count`` processes on the database, behind one Request URL (a round-robin proxy)."""
        bots = [self.process(f"replica{n}") for n in range(1, count + 1)]
        await bots[0].start()  # the first migrates the empty database; the others find it done
        await asyncio.gather(*(bot.start() for bot in bots[1:]))
        proxy = await RoundRobin([bot.url for bot in bots]).start()
        self.proxies.append(proxy)
        self.point_at(proxy.events_url)
        return bots, proxy

    def point_at(self, events_url: str) -> None:
        self.fake.app_url = events_url
        self.slack.app_url = events_url

    async def close(self, failed: bool) -> None:
        for bot in self.processes:
            bot.kill()  # nothing to keep: the database and the fake go with the test
        for proxy in self.proxies:
            await proxy.stop()
        if self._engine is not None:
            self._engine.dispose()
        if failed:
            for bot in self.processes:
                print(bot.logs()[-20000:])

    # ---- waiting ---------------------------------------------------------------------
    async def eventually(self, check: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
        """Poll ``check`` until it returns something true; fail with ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"after {timeout:.0f}s still not: {what or check}")
            await asyncio.sleep(0.05)

    async def quiet(self, seconds: float = 1.0) -> None:
        """Let the processes finish what they are doing (no way to await their tasks from here)."""
        await asyncio.sleep(seconds)

    # ---- what people do ----------------------------------------------------------------
    def user(self, name: str) -> Any:
        return self.fake.user(name)

    async def open_form(self, who: str, command: str, channel: str = "general") -> dict[str, Any]:
        """Run ``/incident <command>`` and wait for the form irbot opens."""
        person = self.user(who)
        before = {v["id"] for v in self.fake.open_views(person)}
        response = await self.slack.command(person, "/incident", command, channel=channel)
        assert response.status == 200, response.body
        return await self.eventually(
            lambda: next((v for v in self.fake.open_views(person) if v["id"] not in before), None),
            what=f"a form opened for /incident {command}")

    async def submit_declare(self, who: str, title: str, values: Mapping[str, Any] | None = None,
                             channel: str = "general") -> None:
        view = await self.open_form(who, f"declare {title}", channel)
        response = await self.slack.submit_view(self.user(who), view["id"], dict(values or {}))
        assert response.status == 200 and not response.body.strip(), response.body

    async def declare(self, who: str, title: str, values: Mapping[str, Any] | None = None,
                      channel: str = "general") -> Channel:
        """Declare and wait until the incident is fully set up in Slack; returns its channel."""
        before = set(self.incident_channels())
        await self.submit_declare(who, title, values, channel)
        [created] = await self.eventually(
            lambda: [c for c in self.incident_channels() if c not in before and self.set_up(c)],
            what=f"the incident {title!r} set up in Slack")
        return self.fake.channel(created)

    async def take(self, who: str, channel: str, role: str = "Incident Commander") -> None:
        """Click the card's Take button and wait until the card shows the new holder."""
        person = self.user(who)
        if person.id not in self.fake.channel(channel).members:
            await self.fake.join(person, channel)
        response = await self.slack.click(person, channel, self.card_ts(channel), f"Take {role}")
        assert response.status == 200, response.body
        await self.eventually(lambda: f"*{role}*: <@{person.id}>" in self.card(channel),
                              what=f"{who} shown as {role} on the card")

    # ---- what people see -----------------------------------------------------------------
    def incident_channels(self) -> list[str]:
        bot = self.fake.bot_user_id
        return [c.id for c in self.fake.channels.values() if c.creator == bot and not c.is_im]

    def bot_messages(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages(channel) if m.get("bot_id")]

    def bot_texts(self, channel: str) -> list[str]:
        return [self.fake.text_of(m) for m in self.bot_messages(channel)]

    def cards(self, channel: str) -> list[dict[str, Any]]:
        """Every incident card irbot posted in the channel (pinned or not)."""
        return [m for m in self.bot_messages(channel) if "*Declared*" in self.fake.text_of(m)]

    def card_ts(self, channel: str) -> str:
        [pin] = self.fake.pins(channel)
        return str(pin["message"]["ts"])

    def card(self, channel: str) -> str:
        pins = self.fake.pins(channel)
        if len(pins) != 1:
            return ""
        return self.fake.text_of(self.fake.message(channel, pins[0]["message"]["ts"]))

    def announcements(self, channel: str) -> list[str]:
        """irbot's messages in #incidents about the incident in ``channel`` (top level)."""
        return [self.fake.text_of(m) for m in self.fake.messages("incidents", include_threads=False)
                if m.get("bot_id") and f"<#{channel}>" in self.fake.text_of(m)]

    def set_up(self, channel: str) -> bool:
        """Card posted and pinned, topic set, announced: what a finished declare leaves."""
        ch = self.fake.channel(channel)
        return bool(self.card(channel) and ch.topic["value"] and self.announcements(channel))

    def reminder_times(self, channel: str) -> list[float]:
        """When each "update is due" reminder was posted (Slack ts, seconds)."""
        return [float(m["ts"]) for m in self.bot_messages(channel)
                if "update on" in self.fake.text_of(m) and "is due" in self.fake.text_of(m)]

    def upload_text(self, channel: str) -> str:
        shared = [m for m in self.fake.messages(channel) if m.get("files") and m.get("bot_id")]
        assert shared, "no file was shared"
        content = self.fake.file_content(shared[-1]["files"][0]["id"])
        assert content is not None
        return content.decode("utf-8")

    # ---- the database, read directly ---------------------------------------------------------
    def query(self, sql: str, **params: Any) -> list[Any]:
        if self._engine is None:
            self._engine = create_engine(sync_url(self.database_url))
        with self._engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    # ---- Slack in flight -----------------------------------------------------------------------
    def hold_next(self, method: str, seconds: float = 1.0, *, lands: bool = True) -> None:
        """The next call of ``method`` is answered ``seconds`` late and then takes effect, or with
        ``lands=False`` never does (the connection drops: as if irbot died before sending it)."""
        self.fake.fail_next(method, delay=seconds, drop=not lands)

    def held(self, method: str) -> bool:
        """True once a held call of ``method`` has arrived (irbot is waiting for its answer)."""
        return not self.fake.faults._faults.get(method)  # noqa: SLF001 - the fake's own queue

    def calls(self, method: str) -> int:
        return len(self.fake.calls_to(method))


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "irbot.toml"
    path.write_text(SETTINGS_TOML, encoding="utf-8")
    return path


@pytest.fixture
async def scene(database_url: str, settings_file: Path, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Scene]:
    fake = await FakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN).start()
    running = Scene(fake, database_url, settings_file, tmp_path / "logs")
    try:
        yield running
    finally:
        report = getattr(request.node, "report_call", None)
        await running.close(failed=bool(report is not None and report.failed))
        await fake.stop()
    fake.assert_no_violations()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """These tests kill processes mid-request: a connection the killed peer abandons can leave an
    aiohttp session to be collected later, in whichever test runs then. That is noise from the
    kills, not a leak in irbot (which runs in the child processes); the in-process suite keeps
    treating it as an error."""
    for item in items:
        if "tests/process/" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
