"""Reminders on APScheduler, one active scheduler per database.

The ``reminder`` table is the truth about what is due: firing claims its row first, so nothing
fires twice. APScheduler only wakes irbot up. Its jobs (deterministic ids ``<incident>:<kind>``,
``replace_existing``) live in memory and are rebuilt from the table when the scheduler becomes
active and every ``LEADER_WAKEUP_SECONDS`` after: that is how a reminder planned by another
replica, or before a restart, gets its job. A job whose time has passed runs at once
(``coalesce``, no misfire limit). (APScheduler's SQLAlchemy job store, used before, ran its
synchronous queries on the event loop: ~12 ms per reminder on PostgreSQL; docs/benchmarks.md.)

Becoming active does not wait for the catch-up: reminders that came due while no scheduler ran
are fired by a background task, at most ``FIRING_AT_ONCE`` at a time, while APScheduler stays
paused (its jobs for the same reminders would only lose the claim). Fired one by one before
start-up went on, 500 overdue reminders kept irbot from answering Slack for a minute.

APScheduler does not coordinate processes. On PostgreSQL the process holding an advisory lock
runs the scheduler; the others keep theirs paused and take over within seconds when the lock
frees. SQLite means one process.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Coroutine

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from irbot.store import repo
from irbot.store.db import Database, is_sqlite

log = logging.getLogger(__name__)

FireReminder = Callable[[int, str, datetime], Awaitable[None]]
# Starts background work; irbot passes its TaskRunner's spawn, so draining it waits for the catch-up.
Spawn = Callable[..., "asyncio.Task[Any]"]
LOCK_KEY = 726573  # arbitrary, constant: the scheduler leadership lock
STANDBY_POLL_SECONDS = 5.0
LEADER_WAKEUP_SECONDS = 2.0  # the active scheduler re-reads pending reminders (other replicas plan too)
# Reminders firing at once: enough to overlap Slack's round trips (~100 ms each), few enough to
# leave most of the connection pool to requests and to spare SQLite's single writer.
FIRING_AT_ONCE = 8

_active: dict[str, "ReminderScheduler"] = {}


async def run_reminder_job(incident_id: int, kind: str, due_at: str) -> None:
    """The job APScheduler stores and calls: primitive arguments, resolved at run time."""
    scheduler = _active.get("current")
    if scheduler is None:
        log.warning("reminder %s:%s fired with no active scheduler", incident_id, kind)
        return
    try:
        async with scheduler.firing:
            await scheduler.fire(incident_id, kind, datetime.fromisoformat(due_at))
    finally:
        scheduler.running.discard(job_id(incident_id, kind))


def job_id(incident_id: int, kind: str) -> str:
    return f"{incident_id}:{kind}"


def _create_task(coro: Coroutine[Any, Any, Any], *, name: str) -> "asyncio.Task[Any]":
    return asyncio.get_running_loop().create_task(coro, name=name)


class ReminderScheduler:
    def __init__(self, db: Database, fire: FireReminder, clock: Callable[[], datetime],
                 on_leadership: Callable[[bool], None] = lambda active: None) -> None:
        self.db = db
        self._on_leadership = on_leadership
        self.fire = fire
        self.clock = clock
        self.is_leader = False
        self._lock_conn: AsyncConnection | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._spawn: Spawn = _create_task
        self._catch_up_task: asyncio.Task[Any] | None = None
        # APScheduler starts every due job at once: unbounded, a burst queues on the connection
        # pool until checkouts time out after a claim, and the reminder stays "firing".
        self.firing = asyncio.Semaphore(FIRING_AT_ONCE)
        # Ids of jobs APScheduler has submitted and that have not returned: their rows may still read
        # "pending", and _reconcile must not plan them again (APScheduler would skip the copy, warning).
        self.running: set[str] = set()
        self.apscheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=timezone.utc,
        )
        self.apscheduler.add_listener(lambda event: self.running.add(event.job_id), EVENT_JOB_SUBMITTED)

    async def start(self, *, spawn: Spawn = _create_task) -> None:
        """Take the lead if no other process has it; returns before overdue reminders have fired."""
        _active["current"] = self
        self._spawn = spawn
        self.apscheduler.start(paused=True)
        if await self._try_lock():
            await self._lead()
        self._loop_task = asyncio.get_running_loop().create_task(self._leadership_loop(), name="scheduler-lead")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await self._stop_catch_up()
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=False)
        await self._release()
        if _active.get("current") is self:
            del _active["current"]

    def plan(self, incident_id: int, kind: str, due_at: datetime) -> None:
        """Wake up at ``due_at`` (call after the reminder row is committed)."""
        self.apscheduler.add_job(run_reminder_job, "date", run_date=due_at, id=job_id(incident_id, kind),
                                 args=[incident_id, kind, due_at.isoformat()], replace_existing=True)

    def cancel(self, incident_id: int, kind: str) -> None:
        try:
            self.apscheduler.remove_job(job_id(incident_id, kind))
        except JobLookupError:
            pass

    async def fire_due(self) -> int:
        """Fire every reminder already due, ``FIRING_AT_ONCE`` at a time (the catch-up; tests with a
        fake clock call it). Returns how many were due."""
        async with self.db.reader() as session:
            due = await repo.due_reminders(now=self.clock(), session=session)
        await asyncio.gather(*(self._fire_overdue(r.incident_id, r.kind, r.due_at) for r in due))
        return len(due)

    async def _fire_overdue(self, incident_id: int, kind: str, due_at: datetime) -> None:
        async with self.firing:
            self._drop_job(incident_id, kind, due_at)
            try:
                await self.fire(incident_id, kind, due_at)
            except Exception:  # one reminder failing must not hold up the rest of the catch-up
                log.exception("reminder %s:%s failed to fire", incident_id, kind)

    def _drop_job(self, incident_id: int, kind: str, due_at: datetime) -> None:
        """The job for this very due time has nothing left to do once the reminder is fired here. A job
        for another time stays: the reminder was planned again since it was read."""
        job = self.apscheduler.get_job(job_id(incident_id, kind))
        if job is not None and datetime.fromisoformat(job.args[2]) == due_at:
            job.remove()

    async def _lead(self) -> None:
        """Become the active scheduler: every pending reminder gets a job; the catch-up of overdue
        ones starts in the background and resumes APScheduler when it is done."""
        self.is_leader = True
        self._on_leadership(True)
        async with self.db.session() as session:
            # Only the active scheduler fires reminders, and the previous one has let go of the lock:
            # a reminder it left "firing" (killed mid-post) would never be finished. Fire it again.
            await repo.release_firing_reminders(session=session)
            await session.commit()
        pending = await self._reconcile()
        self._catch_up_task = self._spawn(self._catch_up(), name="scheduler-catch-up")
        log.info("scheduler active (%d pending reminders)", pending)

    async def _catch_up(self) -> None:
        try:
            fired = await self.fire_due()
            log.info("caught up: %d reminders were due", fired)
        except Exception:  # the jobs planned for the overdue reminders fire them once resumed
            log.exception("reminder catch-up failed; leaving overdue reminders to their jobs")
        self.apscheduler.resume()

    async def _stop_catch_up(self) -> None:
        """Cancelled mid-post, a reminder stays "firing" until the next active scheduler releases it."""
        task, self._catch_up_task = self._catch_up_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _reconcile(self) -> int:
        """Give every pending reminder a job at its due time; returns how many are pending."""
        # Every 2 s: a read, so it must not take SQLite's one write connection (and write lock).
        async with self.db.reader() as session:
            pending = await repo.pending_reminders(session=session)
        for reminder in pending:
            key = job_id(reminder.incident_id, reminder.kind)
            if key in self.running:
                continue
            job = self.apscheduler.get_job(key)
            if job is None or datetime.fromisoformat(job.args[2]) != reminder.due_at:
                self.plan(reminder.incident_id, reminder.kind, reminder.due_at)
        return len(pending)

    async def _leadership_loop(self) -> None:
        while True:
            try:
                if self.is_leader:
                    await self._check_still_leader()
                    await self._reconcile()
                    await asyncio.sleep(LEADER_WAKEUP_SECONDS)
                else:
                    if await self._try_lock():
                        await self._lead()
                        continue
                    await asyncio.sleep(STANDBY_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end leadership handling for good
                log.exception("scheduler leadership check failed")
                await self._step_down()
                await asyncio.sleep(STANDBY_POLL_SECONDS)

    async def _try_lock(self) -> bool:
        if is_sqlite(self.db.url):
            return True
        conn = await self.db.engine.connect()
        # Autocommit: the lock belongs to the session, and no transaction is left open beside it.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})).scalar()
        if got:
            self._lock_conn = conn
            return True
        await conn.close()
        return False

    async def _check_still_leader(self) -> None:
        if self._lock_conn is not None:
            await self._lock_conn.execute(text("SELECT 1"))  # raises if the session (and lock) is gone

    async def _step_down(self) -> None:
        if self.is_leader and not is_sqlite(self.db.url):
            self.is_leader = False
            self._on_leadership(False)
            await self._stop_catch_up()
            if self.apscheduler.running:
                self.apscheduler.pause()
            await self._release()

    async def _release(self) -> None:
        if self._lock_conn is not None:
            try:
                await self._lock_conn.close()
            except Exception:  # the connection may already be broken; the lock went with it
                pass
            self._lock_conn = None
