"""Apply Alembic migrations; the scripts ship inside the package (importlib.resources).

``irbot serve`` migrates at every start, and almost always there is nothing to do. Alembic (with
Mako) costs a running irbot about 8 MB it would keep for its whole life, so the head revision is
read from the scripts' own text and compared with the database's first; Alembic is imported only
when there is something to apply.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import DBAPIError

from irbot.store.db import is_sqlite, sync_url

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def alembic_config(url: str) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("irbot.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", sync_url(url).render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    """The one revision no other revises, read from the scripts without importing Alembic."""
    revisions, revised = _revisions()
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have exactly one head, not {sorted(heads)}")
    return heads.pop()


def _revisions() -> tuple[set[str], set[str]]:
    """Every revision the scripts define, and every one some script revises."""
    revisions, revised = set(), set()
    for script in (resources.files("irbot.store") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py") or script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        revised.update(_DOWN_REVISION.findall(source))
    return revisions, revised


def _engine(url: str):  # noqa: ANN202 - a SQLAlchemy Engine
    """One connection at a time, closed after use. On SQLite, wait out another connection's lock as
    the serving engine does (its busy timeout) rather than failing a start-up after sqlite3's 5 s."""
    extra = {"connect_args": {"timeout": 30}} if is_sqlite(url) else {}
    return create_engine(sync_url(url), poolclass=pool.NullPool, **extra)


def use_wal(url: str) -> None:
    """Put a SQLite file in WAL mode now, while nothing else of irbot's has it open.

    The serving engines ask for WAL on every connection, which costs nothing once the file is in
    WAL mode. Switching a new file needs its exclusive lock, though: irbot's three engines (writer,
    single writes, readers for /healthz) connecting together on a new file could each hold a shared
    lock while waiting for the exclusive one, and SQLite ends such a deadlock at once with
    "database is locked", whatever the busy timeout: a first start failed that way now and then."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    finally:
        engine.dispose()


def database_revision(url: str) -> str | None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None  # no alembic_version table yet: a new database
    finally:
        engine.dispose()


def is_current(url: str) -> bool:
    """Whether the database is at the newest schema (read without Alembic)."""
    return database_revision(url) == head_revision()


def upgrade(url: str) -> None:
    """Bring the database to the newest schema; safe to run from several processes at once."""
    if is_sqlite(url):
        use_wal(url)
    if is_current(url):
        return
    from alembic import command

    config = alembic_config(url)
    engine = _engine(url)
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
    current = database_revision(url)
    if current is None:
        raise SchemaMismatch()
    if current != head_revision():
        raise SchemaMismatch(current, known=current in _revisions()[0])
