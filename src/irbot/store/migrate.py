"""Apply Alembic migrations; the scripts ship inside the package (importlib.resources)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
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
