"""Fixtures: a database per test (SQLite, or PostgreSQL when IRBOT_TEST_DATABASE_URL says so),
and the harness that runs irbot against the fake Slack — once over HTTP, once over Socket Mode.

A test that only makes sense over HTTP (signatures, HTTP status codes) is marked
``@pytest.mark.http_only("why")`` and skipped in Socket Mode."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from sqlalchemy import create_engine, text

from irbot.testing.harness import Harness, sqlite_url

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


@pytest.fixture
async def harness(database_url: str, irbot_env: dict[str, str], slack_mode: str) -> AsyncIterator[Harness]:
    running = await Harness(database_url=database_url, env=irbot_env, socket_mode=slack_mode == "socket").start()
    try:
        yield running
    finally:
        await running.stop()
    running.fake.assert_no_violations()
