"""Which incident a channel belongs to: the command gate's checks that arrive together share one
database read; capture never shares one (it must not miss a channel declared a moment ago)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from irbot.store.channel_incidents import ChannelIncidents
from irbot.store.db import Database
from irbot.store.migrate import upgrade
from irbot.store.models import Incident


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def channel_reads() -> Any:
    """Every statement that looks a channel's incident up, on any engine, as the driver runs it."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "channel_id" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


async def test_a_burst_of_gate_checks_reads_a_channel_once(db: Database, channel_reads: list[str]) -> None:
    channels = ChannelIncidents(db)
    answers = await asyncio.gather(*(channels.incident_id("C-GENERAL", trust_recent_miss=True) for _ in range(30)))
    assert answers == [None] * 30
    assert len(channel_reads) == 1


async def test_gate_checks_together_all_learn_a_found_incident(db: Database, channel_reads: list[str]) -> None:
    async with db.session() as session:
        incident = Incident(number=1, title="t", severity="SEV-2", type="outage", channel_id="C-INC-1")
        session.add(incident)
        await session.commit()
        incident_id = incident.id
    channels = ChannelIncidents(db)
    answers = await asyncio.gather(*(channels.incident_id("C-INC-1", trust_recent_miss=True) for _ in range(10)))
    assert answers == [incident_id] * 10
    assert len(channel_reads) == 1
    assert await channels.incident_id("C-INC-1") == incident_id  # remembered for life: no read
    assert len(channel_reads) == 1


async def test_capture_reads_for_itself(db: Database, channel_reads: list[str]) -> None:
    channels = ChannelIncidents(db)
    gate = asyncio.ensure_future(channels.incident_id("C-GENERAL", trust_recent_miss=True))
    captures = await asyncio.gather(*(channels.incident_id("C-GENERAL") for _ in range(3)))
    assert captures == [None] * 3 and await gate is None
    assert len(channel_reads) == 4


async def test_one_gate_check_given_up_leaves_the_others_their_answer(db: Database, channel_reads: list[str]) -> None:
    channels = ChannelIncidents(db)
    first = asyncio.ensure_future(channels.incident_id("C-GENERAL", trust_recent_miss=True))
    second = asyncio.ensure_future(channels.incident_id("C-GENERAL", trust_recent_miss=True))
    await asyncio.sleep(0)  # both are waiting for the one read
    first.cancel()
    assert await second is None
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(channel_reads) == 1
    # The shared read finished and stored its miss for the checks that come after it.
    assert await channels.incident_id("C-GENERAL", trust_recent_miss=True) is None
    assert len(channel_reads) == 1
