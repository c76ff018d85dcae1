"""Apply Alembic migrations; the scripts ship inside the package (importlib.resources).

``irbot serve`` migrates at every start, and almost always there is nothing to do. Alembic (with
Mako) costs a running irbot about 8 MB it would keep for its whole life, so the head revision is
read from the scripts' own text and compared with the database's first; Alembic is imported only
when there is something to apply.
"""

from __future__ import annotations

import re
from importlib import resources
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
    revisions, revised = set(), set()
    for script in (resources.files("irbot.store") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py") or script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        revised.update(_DOWN_REVISION.findall(source))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have exactly one head, not {sorted(heads)}")
    return heads.pop()


def database_revision(url: str) -> str | None:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None  # no alembic_version table yet: a new database
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Bring the database to the newest schema; safe to run from several processes at once."""
    if database_revision(url) == head_revision():
        return
    from alembic import command

    config = alembic_config(url)
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        if not is_sqlite(url):
            # Two replicas starting together must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(726572)")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    engine.dispose()
