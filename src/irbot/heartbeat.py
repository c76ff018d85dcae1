"""irbot records when it is up, so the backfill at start-up (and before a post-mortem) reads only the gaps."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from irbot.deps import Deps
from irbot.store import repo
from irbot.store.models import KEEP_DELIVERIES

log = logging.getLogger(__name__)
BEAT_SECONDS = 15.0
KEEP_DELIVERED_OUTBOX = timedelta(days=7)


class Heartbeat:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.process_id = deps.process_id
        self.started_at = deps.clock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    @property
    def running(self) -> bool:
        return self._task is not None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.beat(stopped=True)
        except Exception:  # shutting down with the database gone: the last beat is enough
            log.warning("final heartbeat not recorded")

    async def beat(self, *, stopped: bool = False) -> None:
        now = self.deps.clock()
        async with self.deps.db.session() as session:
            await repo.beat(self.process_id, started_at=self.started_at, now=now, session=session, stopped=stopped)
            await repo.forget_deliveries(now - KEEP_DELIVERIES, session=session)
            await repo.forget_delivered_outbox(now - KEEP_DELIVERED_OUTBOX, session=session)
            await session.commit()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                await self.beat()
            except Exception:  # a database hiccup: the gap it leaves is backfilled later
                log.warning("heartbeat failed", exc_info=True)
