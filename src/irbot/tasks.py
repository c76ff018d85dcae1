"""Background work started after an ack: tracked, logged when it fails, awaitable when draining."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from typing import Any, Awaitable, Callable, Coroutine

log = logging.getLogger(__name__)

# Work started while answering a person (after a click or a command was acknowledged) reports its
# failure to them: the ack has gone, so nothing else would. The Slack layer sets this per request.
# Only the work spawned directly is watched: what that work spawns in turn (a webhook, an outbox
# delivery) failing says nothing about what the person asked for.
failure_reporter: contextvars.ContextVar[Callable[[BaseException], None] | None] = contextvars.ContextVar(
    "irbot_failure_reporter", default=None)


class TaskRunner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str = "irbot-task") -> asyncio.Task[Any]:
        report = failure_reporter.get()
        context = contextvars.copy_context()
        context.run(failure_reporter.set, None)
        task = asyncio.get_running_loop().create_task(coro, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._finished, report))
        return task

    def _finished(self, report: Callable[[BaseException], None] | None, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)
            if report is not None:
                report(error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until no background work is left (tests, the demo and shutdown use this)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._tasks)} background tasks still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


async def renew_every(seconds: float, renew: Callable[[], Awaitable[None]], *, what: str) -> None:
    """Keep a lease alive while work runs (cancel it when the work ends). A failed renewal is
    logged: the lease may then lapse and another worker take over, which the lease allows."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await renew()
        except Exception:
            log.warning("could not renew the lease of %s", what, exc_info=True)


class Periodic:
    """Calls ``tick`` every ``every`` seconds until stopped. A tick that fails (the database is out)
    is logged and the next one comes as usual: a background loop must never end by itself."""

    def __init__(self, name: str, tick: Callable[[], Awaitable[Any]], every: float) -> None:
        self.name, self.tick, self.every = name, tick, every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # tried again at the next tick
                log.warning("%s failed; trying again in %gs", self.name, self.every, exc_info=True)
            await asyncio.sleep(self.every)
