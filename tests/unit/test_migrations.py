"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import irbot.store.models  # noqa: F401 - registers the tables
from irbot.store.migrate import upgrade


def test_migrating_to_head_gives_the_models_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert differences == [], "a model changed without a migration (alembic revision --autogenerate)"


def test_the_head_is_read_from_the_scripts_as_alembic_reads_it() -> None:
    from alembic.script import ScriptDirectory

    from irbot.store.migrate import alembic_config, head_revision
    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


def test_an_up_to_date_database_is_not_migrated_and_alembic_never_loads(tmp_path: Path) -> None:
    """A running irbot keeps what it imports: Alembic and Mako would cost it ~8 MB for nothing."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    upgrade(url)
    probe = ("import sys; from irbot.store.migrate import upgrade; upgrade(sys.argv[1]); "
             "print('alembic' in sys.modules, 'mako' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["False", "False"], shown.stderr


def test_a_new_sqlite_file_leaves_the_migration_in_wal_mode(tmp_path: Path) -> None:
    """irbot's engines connecting together to a file still in rollback mode would each try to
    switch it to WAL; SQLite ends that race with "database is locked" whatever the busy timeout.
    The migration switches it first, while it is alone."""
    import sqlite3

    path = tmp_path / "new.db"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
