"""Engines and sessions. irbot picks its own async driver from a plain ``DATABASE_URL``."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, AsyncIterator, Callable

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (ArgumentError, DBAPIError, DisconnectionError, InterfaceError, OperationalError,
                            TimeoutError as PoolTimeout)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from irbot.config import ConfigError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _parse(url: str) -> URL:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in _ASYNC_DRIVERS:
        raise ConfigError("DATABASE_URL must be sqlite:///path or postgresql://user@host:port/db")
    if parsed.get_backend_name() == "sqlite" and (parsed.database in (None, "", ":memory:")
                                                  or parsed.query.get("mode") == "memory"):
        raise ConfigError(f"DATABASE_URL: {url} is a database in memory, lost when irbot stops and seen by no "
                          "other process: give a file, e.g. sqlite:///irbot.db")
    if parsed.get_backend_name() == "postgresql" and not _postgres_driver_installed():
        raise ConfigError(f"DATABASE_URL: {display_url(parsed)} needs the PostgreSQL driver (psycopg), which is "
                          "not installed: pip install 'irbot[postgres]'")
    return parsed


def _postgres_driver_installed() -> bool:
    try:
        import psycopg  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True


def display_url(url: str | URL) -> str:
    """The URL as it may be shown and logged: the password masked."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def database_problem(url: str, exc: BaseException) -> str:
    """One line for an operator: which database could not be used, and why (the driver's own words)."""
    cause = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    if is_sqlite(url) and "unable to open database file" in text:
        text += " (does its folder exist, and may irbot write there?)"
    return f"DATABASE_URL: cannot use {display_url(_parse(url))}: {text}"


def async_url(url: str) -> URL:
    parsed = _parse(url)
    if "+" in parsed.drivername:
        return parsed
    return parsed.set(drivername=_ASYNC_DRIVERS[parsed.get_backend_name()])


def sync_url(url: str) -> URL:
    """For Alembic and APScheduler's job store, which are synchronous."""
    parsed = _parse(url)
    return parsed.set(drivername=_SYNC_DRIVERS[parsed.get_backend_name()])


def is_sqlite(url: str) -> bool:
    return _parse(url).get_backend_name() == "sqlite"


def insert_with_conflicts(dialect_name: str, table: Any) -> Any:
    """``INSERT`` in the dialect's own form, the one with ``on_conflict_do_nothing``."""
    return _dialect_insert(dialect_name)(table)


@cache
def _dialect_insert(dialect_name: str) -> Callable[[Any], Any]:
    # Imported here, not at the top: importing PostgreSQL's dialect package loads all its drivers'
    # modules (about 3 MiB), which a process serving a SQLite database never needs.
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _tune_sqlite(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI types
    # WAL lets readers work beside the writer; the busy timeout turns lock contention into waits.
    # The driver's own transaction handling is switched off (SQLAlchemy's recipe), so SAVEPOINTs
    # work and every transaction starts with BEGIN IMMEDIATE below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# An execution option: this SQLite connection runs single statements, each its own transaction.
ONE_STATEMENT_EACH = "irbot_one_statement_each"


def _begin_immediate(conn) -> None:  # noqa: ANN001 - SQLAlchemy connection
    """Take SQLite's write lock at the start: a transaction that read first and wrote later could
    otherwise fail at once (SQLITE_BUSY_SNAPSHOT) when another writer committed in between."""
    if conn.get_execution_options().get(ONE_STATEMENT_EACH):
        return  # the driver opens no transaction either: SQLite commits each statement by itself
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, for_reading: bool = False) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        if for_reading:  # readers take no lock at all: WAL gives them a consistent snapshot
            engine = create_async_engine(target, connect_args={"timeout": 10})
        else:
            # SQLite has one writer at a time anyway. With one pooled connection, this process's
            # writers queue in the pool and each starts the moment the last one commits; with
            # several, they all wait in SQLite's busy handler, whose back-off sleeps (up to 100 ms
            # a try) made the latency tails. Other processes still meet the busy timeout.
            engine = create_async_engine(target, connect_args={"timeout": 10}, pool_size=1, max_overflow=0)
            event.listen(engine.sync_engine, "begin", _begin_immediate)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    # Every connection is kept (at most 20, as before): with 10 kept and 10 overflow, a burst of
    # requests opened and closed overflow connections all the time, each a new PostgreSQL backend.
    engine = create_async_engine(target, pool_size=20, max_overflow=0)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused for this long is pinged before it is handed out (a restarted server
# left it dead). SQLAlchemy's pool_pre_ping pings on every checkout: under load that is one extra
# round trip per session, several per request, for connections that were in use a moment ago.
IDLE_BEFORE_PING = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    def checked_in(_dbapi_connection, record) -> None:  # noqa: ANN001 - pool event arguments
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError(str(exc)) from exc  # the pool replaces it with a new one
            raise

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached now (down, restarting, no connection
    free in time): trying again later can succeed. A value the database refuses (``DataError``,
    ``IntegrityError``, …) is not an outage, and saying "can't reach the database" would be wrong."""
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)):
        return True
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(error, (ConnectionError, TimeoutError, OSError))


class Database:
    """One engine per process; ``async with db.session() as s`` is one unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite = is_sqlite(url)
        self.engine = create_engine(url)
        # Pure reads on the hot paths run outside any transaction, each statement on its own:
        # SQLite, a second engine whose sessions never take the write lock (every transaction of
        # the main engine starts with BEGIN IMMEDIATE); PostgreSQL, the same pool in autocommit,
        # so a one-query read is one round trip instead of three (BEGIN, SELECT, ROLLBACK).
        self._read_engine = (create_engine(url, for_reading=True) if self._sqlite
                             else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        # One write statement, committed on its own: PostgreSQL in autocommit (one round trip, not
        # BEGIN, statement, COMMIT); SQLite through the one write connection, so it still queues
        # behind this process's other writers, but without BEGIN IMMEDIATE and COMMIT of its own.
        self._single_writes = (self.engine.execution_options(**{ONE_STATEMENT_EACH: True}) if self._sqlite
                               else self._read_engine)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._readers = async_sessionmaker(self._read_engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only; each statement sees the database as it is when it runs."""
        async with self._readers() as session:
            yield session

    @asynccontextmanager
    async def single_write(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one write statement that commits on its own (never several: each
        statement is its own transaction)."""
        async with self._single_writes.connect() as connection:
            yield connection

    async def check(self) -> None:
        """Connect and run ``SELECT 1``; raises what the driver raised."""
        # The reader: on SQLite, /healthz must not queue behind the one write connection.
        async with self._read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def ping(self) -> bool:
        try:
            await self.check()
            return True
        except Exception:  # any failure means "not reachable" for /healthz
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._sqlite:
            await self._read_engine.dispose()
