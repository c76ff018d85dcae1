"""Which incident a Slack channel belongs to, remembered by this process.

Every event irbot captures starts by asking this (commands and clicks load the whole incident,
whose current fields they need). A channel gets
its incident once, during declare, and keeps it, so a found answer is kept for the life of the
process. "No incident here" is never kept: the channel may be the one a declare is setting up
right now, and its first messages must not be lost to a stale miss.
"""

from __future__ import annotations

from irbot.store import repo
from irbot.store.db import Database

# Far more incident channels than a process will ever see; the bound only guards against misuse.
MAX_REMEMBERED = 10_000


class ChannelIncidents:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[str, int] = {}

    async def incident_id(self, channel_id: str | None) -> int | None:
        if not channel_id:
            return None
        known = self._known.get(channel_id)
        if known is not None:
            return known
        async with self._db.reader() as session:
            found = await repo.incident_id_by_channel(channel_id, session=session)
        if found is not None:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            self._known[channel_id] = found
        return found
