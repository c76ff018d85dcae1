"""What a serving process holds in memory: what only other commands, Socket Mode, a rarely asked
request or the other database use is imported where it is used, never by ``irbot serve`` at
start-up. Each case is a fresh interpreter that builds the app as ``irbot serve`` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Left out of every serving process until used.
NEVER_AT_START = (
    "alembic", "mako", "pygments",  # migrations run in a short-lived `irbot migrate` child
    "irbot.fakeslack", "irbot.fakepagerduty", "irbot.faketracker", "irbot.demo",  # the demo and tests
    "irbot.offline",  # postmortem, verify, export and report on the command line
    "irbot.socket_mode", "slack_sdk.socket_mode",  # only in Socket Mode
    "irbot.services.postmortem", "irbot.services.report", "irbot.domain.report", "statistics",
)

BUILD_APP = """
import json, sys
from irbot.app import create_app
from irbot.config import Settings
create_app(Settings(slack_bot_token="xoxb-1", slack_signing_secret="secret", database_url=sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_building_app(database_url: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", BUILD_APP, database_url], capture_output=True, text=True,
                          check=True, timeout=120)
    return set(json.loads(done.stdout))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in names if name in modules or any(m.startswith(name + ".") for m in modules))


def test_a_sqlite_server_imports_neither_postgresql_nor_what_it_does_not_serve(tmp_path: Path) -> None:
    modules = modules_after_building_app(f"sqlite:///{tmp_path / 'irbot.db'}")
    assert "aiosqlite" in modules  # the case is real: the app was built on its driver
    assert loaded(modules, NEVER_AT_START + ("psycopg", "sqlalchemy.dialects.postgresql")) == []


def test_a_postgresql_server_imports_neither_sqlite_s_driver_nor_what_it_does_not_serve() -> None:
    pytest.importorskip("psycopg")
    modules = modules_after_building_app("postgresql://irbot@127.0.0.1:1/irbot")  # never connected to
    assert "psycopg" in modules
    assert loaded(modules, NEVER_AT_START + ("aiosqlite", "sqlalchemy.dialects.sqlite")) == []
