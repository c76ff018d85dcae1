"""Slack work owed by committed changes: delivered even if the process dies, and posted once.

A change (a role taken, an update, a resolution) writes its Slack side as steps into the outbox
in the change's own transaction. After the commit, the process that made the change delivers
them at once. A process killed half-way leaves the item pending under a short lease; when the
lease lapses, the sweep that runs in every process (or the restarted one) finishes it. Steps run
in order and each is recorded when done, so a finished step never runs again.

Posting is the one step Slack does not make idempotent. Every post carries message metadata
naming its item and step, and a retried item looks for that post in Slack before posting it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.services import surfaces
from irbot.slack import blocks
from irbot.slack.gateway import SlackCallError
from irbot.store import repo
from irbot.store.models import Incident, OutboxItem
from irbot.tasks import renew_every

log = logging.getLogger(__name__)

# Short, and renewed while delivering (a 429 wait can outlast it): after a kill -9 the work is
# taken over within LEASE + SWEEP_SECONDS.
LEASE = timedelta(seconds=5)
RENEW_SECONDS = 1.5
SWEEP_SECONDS = 2.0
MAX_ATTEMPTS = 6  # Slack refusing the same step six times (with back-off) will not change its mind
POST_EVENT = "irbot_outbox_post"

CHANNEL = "channel"  # the incident's channel
STAKEHOLDERS = "stakeholders"  # the thread under the incident's announcement


Step = dict[str, Any]


def invite(user: str) -> Step:
    """Into the incident's channel; best effort (someone Slack will not invite can still be told)."""
    return {"do": "invite", "user": user, "best_effort": True}


def post(message: blocks.Message, *, to: str = CHANNEL, best_effort: bool = False) -> Step:
    """``to``: CHANNEL, STAKEHOLDERS or a user id (a direct message). A best-effort post that Slack
    refuses is skipped, not retried (a brief to someone who cannot receive DMs)."""
    return {"do": "post", "to": to, "message": message.as_args(), "best_effort": best_effort}


def refresh() -> Step:
    """Redraw card, topic and announcement from the stored incident."""
    return {"do": "refresh"}


async def record(incident_id: int, what: str, steps: list[Step], *, session: Any, deps: Deps,
                 held: bool = True) -> OutboxItem:
    """Add the item inside the caller's transaction; after the commit, :func:`deliver_soon` it.

    ``held``: the item starts leased to this process, which delivers it right after the commit
    (no claim needed); if the process dies first, the lease lapses and the sweep takes over."""
    now = deps.clock()
    item = OutboxItem(incident_id=incident_id, what=what, steps=steps, created_at=now,
                      lease_until=now + LEASE if held else None, attempts=1 if held else 0)
    await repo.add_outbox(item, session=session)
    return item


async def record_message(incident: Incident, what: str, text: str, *, session: Any, deps: Deps,
                         redraw: bool = False, held: bool = True) -> OutboxItem:
    """The common case: the incident's channel is owed one message (and, with ``redraw``, a redraw
    of card, topic and announcement)."""
    assert incident.id is not None
    steps = [post(surfaces.message_for(incident, text, deps)), *([refresh()] if redraw else [])]
    return await record(incident.id, what, steps, session=session, deps=deps, held=held)


def deliver_soon(item: OutboxItem, deps: Deps) -> None:
    """Deliver a held item (see :func:`record`) once its transaction has committed."""
    deps.tasks.spawn(_deliver_held(item, deps), name=f"outbox-{item.id}")


async def _deliver_held(item: OutboxItem, deps: Deps) -> bool:
    assert item.id is not None
    incident = await _incident_ready(item.id, deps)
    if incident is None:
        return False  # the sweep delivers it once the incident is set up
    return await _run_steps(item, incident, deps)


async def deliver(item_id: int, deps: Deps) -> bool:
    """Claim the item and run its remaining steps; False when another worker holds it, the incident
    is still being set up in Slack (the sweep tries again), or Slack refused a step."""
    incident = await _incident_ready(item_id, deps)
    if incident is None:
        return False
    now = deps.clock()
    async with deps.db.session() as session:
        item = await repo.claim_outbox(item_id, now=now, until=now + LEASE, session=session)
        await session.commit()
    if item is None:
        return False
    if item.attempts > MAX_ATTEMPTS:
        await _finish(item, deps, state="failed", error=item.error or "gave up")
        return False
    return await _run_steps(item, incident, deps)


async def _run_steps(item: OutboxItem, incident: Incident, deps: Deps) -> bool:
    lease = _Lease(item, deps)
    renewing = asyncio.get_running_loop().create_task(
        renew_every(RENEW_SECONDS, lease.renew, what=f"outbox item {item.id}"))
    # A retried item's previous worker may have died after any step up to and including its first
    # unrecorded post (progress is recorded after every post): look for posts in Slack until this
    # worker has recorded one of its own.
    retried = item.attempts > 1
    try:
        for index in range(item.done, len(item.steps)):
            if not lease.held:
                log.warning("outbox item %s (%s): lease lost; leaving it to its new holder", item.id, item.what)
                return False
            step = item.steps[index]
            try:
                await _run(step, incident, item, index, deps, look_first=retried)
            except SlackCallError as exc:
                if not step.get("best_effort"):
                    await _give_back(item, exc.code, deps)
                    return False
                log.warning("outbox item %s (%s): skipped a %s step: %s", item.id, item.what, step["do"], exc.code)
            if step["do"] == "post" and index + 1 < len(item.steps):
                # Recorded after posts only: the other steps may simply run again after a crash.
                if not await lease.record_progress(index + 1):
                    return False
                retried = False
    finally:
        renewing.cancel()
    await _finish(item, deps, state="done")
    return True


class _Lease:
    """This worker's hold on an item. It is lost when another worker has claimed the item (a write
    found the row claimed again), or when renewals have failed for a whole lease, after which
    another worker may claim it at any moment: either way this worker stops before its next step."""

    def __init__(self, item: OutboxItem, deps: Deps) -> None:
        assert item.id is not None and item.lease_until is not None
        self.item_id, self.attempt, self.deps = item.id, item.attempts, deps
        self.until = item.lease_until
        self.lost = False

    @property
    def held(self) -> bool:
        return not self.lost and self.deps.clock() < self.until

    async def renew(self) -> None:
        until = self.deps.clock() + LEASE
        async with self.deps.db.session() as session:
            renewed = await repo.renew_outbox(self.item_id, self.attempt, until=until, session=session)
            await session.commit()
        self._still_ours(renewed, until)

    async def record_progress(self, done: int) -> bool:
        until = self.deps.clock() + LEASE
        async with self.deps.db.session() as session:
            recorded = await repo.outbox_step_done(self.item_id, self.attempt, done, until=until, session=session)
            await session.commit()
        self._still_ours(recorded, until)
        return recorded

    def _still_ours(self, written: bool, until: datetime) -> None:
        if written:
            self.until = until
        else:
            self.lost = True


async def deliver_pending(deps: Deps) -> int:
    """Deliver every pending item nobody holds (start-up, and the sweep). Returns how many finished."""
    async with deps.db.reader() as session:
        due = await repo.outbox_due(now=deps.clock(), session=session)
    finished = 0
    for item_id in due:
        finished += await deliver(item_id, deps)
    return finished


class OutboxSweeper:
    """Every SWEEP_SECONDS, finish what a dead process or a refused step left behind."""

    def __init__(self, deps: Deps, every: float = SWEEP_SECONDS) -> None:
        self.deps = deps
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await deliver_pending(self.deps)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is out: try again at the next sweep
                log.warning("outbox sweep failed", exc_info=True)
            await asyncio.sleep(self.every)


async def _incident_ready(item_id: int, deps: Deps) -> Incident | None:
    """The item's incident, or None while its channel does not exist yet (declared from an alert a
    moment ago): the work waits for the set-up, which the set-up's own repair finishes."""
    async with deps.db.reader() as session:
        incident = await repo.outbox_incident(item_id, session=session)
    ready = incident is not None and incident.setup == "open" and incident.channel_id is not None
    return incident if ready else None


async def _run(step: Step, incident: Incident, item: OutboxItem, index: int, deps: Deps, *,
               look_first: bool) -> None:
    assert incident.channel_id is not None
    action = step["do"]
    if action == "invite":
        await deps.slack.call("conversations.invite", channel=incident.channel_id, users=step["user"])
    elif action == "post":
        await _post(step, incident, item, index, deps, look_first=look_first)
    elif action == "refresh":  # from the latest stored state: later changes may have committed since
        async with deps.db.reader() as session:
            latest = await repo.get_incident(item.incident_id, session=session)
        await surfaces.refresh_surfaces(latest or incident, deps)
    else:
        raise ValueError(f"unknown outbox step {action!r}")


async def _post(step: Step, incident: Incident, item: OutboxItem, index: int, deps: Deps, *,
                look_first: bool) -> None:
    to, thread_ts = step["to"], None
    if to == CHANNEL:
        channel = incident.channel_id
    elif to == STAKEHOLDERS:
        if incident.private or not (incident.announce_channel_id and incident.announce_ts):
            return  # never announced: nobody follows a thread
        channel, thread_ts = incident.announce_channel_id, incident.announce_ts
    else:
        channel = to  # a user: Slack opens the DM (its id is unknown here, so a retry cannot look first)
    assert channel is not None
    mark = {"event_type": POST_EVENT, "event_payload": {"outbox_id": item.id, "step": index}}
    can_look = to in (CHANNEL, STAKEHOLDERS)
    await surfaces.post_once(channel, blocks.Message(**step["message"]), mark, deps, thread_ts=thread_ts,
                             look_since=item.created_at if look_first and can_look else None)


async def _give_back(item: OutboxItem, code: str, deps: Deps) -> None:
    """Slack refused a step: retry later with back-off, or give up after MAX_ATTEMPTS."""
    async with deps.db.reader() as session:
        incident = await repo.get_incident(item.incident_id, session=session)
    ref = incident_ref(incident.number) if incident else f"incident {item.incident_id}"
    if item.attempts >= MAX_ATTEMPTS:
        log.error("%s: gave up on the Slack side of %s after %d attempts: %s", ref, item.what, item.attempts, code)
        await _finish(item, deps, state="failed", error=code)
        return
    delay = timedelta(seconds=min(5 * 2 ** (item.attempts - 1), 300))
    log.warning("%s: Slack refused the Slack side of %s (%s); retrying in %ds", ref, item.what, code,
                delay.total_seconds())
    await _finish(item, deps, state="pending", error=code, retry_at=deps.clock() + delay)


async def _finish(item: OutboxItem, deps: Deps, *, state: str, error: str | None = None,
                  retry_at: datetime | None = None) -> None:
    """Unless another worker has claimed the item meanwhile (then the outcome is theirs to record)."""
    assert item.id is not None
    async with deps.db.session() as session:
        await repo.finish_outbox(item.id, item.attempts, state=state, error=error, retry_at=retry_at,
                                 session=session)
        await session.commit()
