"""What start-up tells an operator about the database: the URL without its password, the cause in one line."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from irbot.config import ConfigError
from irbot.store.db import database_problem, display_url, is_sqlite


def test_the_url_shown_masks_the_password() -> None:
    assert display_url("postgresql://irbot:s3cret@db:5432/irbot") == "postgresql://irbot:***@db:5432/irbot"
    assert display_url("sqlite:////var/lib/irbot/irbot.db") == "sqlite:////var/lib/irbot/irbot.db"


def test_a_driver_error_is_one_line_naming_database_url_with_a_hint_for_sqlite_folders() -> None:
    error = OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    assert database_problem("sqlite:////nowhere/irbot.db", error) == (
        "DATABASE_URL: cannot use sqlite:////nowhere/irbot.db: unable to open database file "
        "(does its folder exist, and may irbot write there?)")
    refused = OperationalError("SELECT 1", {}, OSError("connection failed:\n\tConnection refused"))
    line = database_problem("postgresql://irbot:s3cret@db/irbot", refused)
    assert line == "DATABASE_URL: cannot use postgresql://irbot:***@db/irbot: connection failed: Connection refused"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_a_database_in_memory_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="^DATABASE_URL: .* in memory"):
        is_sqlite(url)
