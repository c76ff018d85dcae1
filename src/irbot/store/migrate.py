"""Apply Alembic migrations; the scripts ship inside the package (importlib.resources)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from irbot.store.db import is_sqlite, sync_url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("irbot.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", sync_url(url).render_as_string(hide_password=False))
    return config


def upgrade(url: str) -> None:
    """Bring the database to the newest schema; safe to run from several processes at once."""
    config = alembic_config(url)
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        if not is_sqlite(url):
            # Two replicas starting together must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(726572)")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    engine.dispose()


class SchemaMismatch(Exception):
    """A database a command only reads is not at irbot's current schema.

    ``revision`` is the schema the database is at: None when it has no irbot tables at all (or
    is not there); ``known`` says whether this irbot's migrations can bring it up to date."""

    def __init__(self, revision: str | None = None, *, known: bool = False) -> None:
        super().__init__(revision)
        self.revision, self.known = revision, known


def require_schema(url: str) -> None:
    """Check, without creating or changing anything, that ``url`` holds irbot's current schema.

    A database without irbot's tables, or with another schema, is named rather than half-read
    ("no such table"). Only reads: no pragma, no migration."""
    target = sync_url(url)
    if target.get_backend_name() == "sqlite":
        path = target.database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            raise SchemaMismatch()  # and none is made: SQLite creates the file it connects to
    engine = create_engine(target, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    if current is None:
        raise SchemaMismatch()
    scripts = ScriptDirectory.from_config(alembic_config(url))
    if current != scripts.get_current_head():
        raise SchemaMismatch(current, known=current in {s.revision for s in scripts.walk_revisions()})
