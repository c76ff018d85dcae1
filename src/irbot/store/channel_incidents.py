"""Which incident a Slack channel belongs to, remembered by this process.

Every event irbot captures starts by asking this (commands and clicks load the whole incident,
whose current fields they need). A channel gets
its incident once, during declare, and keeps it, so a found answer is kept for the life of the
process. "No incident here" is never trusted when capturing messages: the channel may be the one a
declare (in another replica) is setting up right now, and its first messages must not be lost to a
stale miss. The gate that every command passes may trust a miss for ABSENT_FOR seconds, so that a
burst of commands in #general asks the database once. When that miss expires in the middle of a
burst, the gate's checks for the channel that arrive while it is being read again wait for that one
read instead of each starting their own (a hundred concurrent reads held a burst's acks back by
tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import time

from irbot.store import repo
from irbot.store.db import Database

# Far more incident channels than a process will ever see; the bound only guards against misuse.
MAX_REMEMBERED = 10_000
ABSENT_FOR = 5.0  # seconds a "no incident here" answer is kept


class ChannelIncidents:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[str, int] = {}
        self._private: dict[str, bool] = {}  # an incident's channel is private for life, or never
        self._absent: dict[str, float] = {}  # channel -> when "no incident here" was read (monotonic)
        self._gate_reads: dict[str, asyncio.Task[int | None]] = {}  # channel -> the gate's read under way

    def remember(self, channel_id: str, incident_id: int, *, private: bool | None = None) -> None:
        """A channel just created for an incident (its events arrive before the set-up records it)."""
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
            self._private.clear()
        self._known[channel_id] = incident_id
        self._absent.pop(channel_id, None)
        if private is not None:
            self._private[channel_id] = private

    async def is_private_incident(self, channel_id: str) -> bool:
        """Whether the channel is a private incident's (False for any other channel)."""
        if channel_id in self._private:
            return self._private[channel_id]
        incident_id = await self.incident_id(channel_id)
        if incident_id is None:
            return False
        async with self._db.reader() as session:
            incident = await repo.get_incident(incident_id, session=session)
        if incident is None:
            return False
        self._private[channel_id] = incident.private
        return incident.private

    async def incident_id(self, channel_id: str | None, *, trust_recent_miss: bool = False) -> int | None:
        if not channel_id:
            return None
        known = self._known.get(channel_id)
        if known is not None:
            return known
        if not trust_recent_miss:
            return await self._read(channel_id)
        absent_since = self._absent.get(channel_id)
        if absent_since is not None and time.monotonic() - absent_since < ABSENT_FOR:
            return None
        return await self._shared_read(channel_id)

    async def _shared_read(self, channel_id: str) -> int | None:
        """One read for every caller that trusts a recent miss and asks while it runs. Only those may
        share: a read that began before a captured message arrived could miss a channel that a declare
        committed in between, and capture never accepts a stale miss."""
        reading = self._gate_reads.get(channel_id)
        if reading is None:
            reading = asyncio.get_running_loop().create_task(self._read_for_gate(channel_id))
            self._gate_reads[channel_id] = reading
        # Shielded: one caller given up on (its request cancelled) does not cancel the others' read.
        return await asyncio.shield(reading)

    async def _read_for_gate(self, channel_id: str) -> int | None:
        try:
            return await self._read(channel_id)
        finally:
            del self._gate_reads[channel_id]

    async def _read(self, channel_id: str) -> int | None:
        async with self._db.reader() as session:
            found = await repo.incident_id_by_channel(channel_id, session=session)
        if found is not None:
            self.remember(channel_id, found)
        else:
            if len(self._absent) >= MAX_REMEMBERED:
                self._absent.clear()
            self._absent[channel_id] = time.monotonic()
        return found
