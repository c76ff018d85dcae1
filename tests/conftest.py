"""Fixtures: a database per test (SQLite, or PostgreSQL when IRBOT_TEST_DATABASE_URL says so),
and the harness that runs irbot against the fake Slack — once over HTTP, once over Socket Mode.

A test that only makes sense over HTTP (signatures, HTTP status codes) is marked
``@pytest.mark.http_only("why")`` and skipped in Socket Mode."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from datetime import datetime
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from irbot.deps import system_clock
from irbot.fakeslack.harness import Harness, sqlite_url

POSTGRES_URL = os.environ.get("IRBOT_TEST_DATABASE_URL", "")


def _postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database per test on the shared server, dropped afterwards."""
    name = f"irbot_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL:
        yield from _postgres_database(POSTGRES_URL)
    else:
        yield sqlite_url(tmp_path)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "http_only(reason): the test is about HTTP; skipped in Socket Mode")


@pytest.fixture(params=["http", "socket"])
def slack_mode(request: pytest.FixtureRequest) -> str:
    """How Slack reaches irbot: signed HTTP requests, or Socket Mode envelopes over a WebSocket."""
    marker = request.node.get_closest_marker("http_only")
    if request.param == "socket" and marker is not None:
        pytest.skip(marker.args[0] if marker.args else "HTTP only")
    return request.param


@pytest.fixture
def irbot_env() -> dict[str, str]:
    """Extra environment for irbot; tests override this fixture or add to it."""
    return {}


StartHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_harness(database_url: str, tmp_path: Path, slack_mode: str) -> AsyncIterator[StartHarness]:
    """Start irbot with the fake Slack: ``await start_harness(settings="...toml...", clock=FakeClock())``.

    Everything started is stopped afterwards, and the fake must have seen no broken Slack rule.
    """
    started: list[Harness] = []

    async def start(*, settings: str = "", env: dict[str, str] | None = None,
                    clock: Callable[[], datetime] = system_clock) -> Harness:
        extra = dict(env or {})
        if settings:
            config = tmp_path / f"irbot-{len(started)}.toml"
            config.write_text(settings, encoding="utf-8")
            extra["IRBOT_CONFIG"] = str(config)
        running = await Harness(database_url=database_url, env=extra, clock=clock,
                                socket_mode=slack_mode == "socket").start()
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            await running.stop()
    for running in started:
        running.fake.assert_no_violations()


@pytest.fixture
async def harness(start_harness: StartHarness, irbot_env: dict[str, str]) -> Harness:
    return await start_harness(env=irbot_env)
