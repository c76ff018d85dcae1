"""The one engine for work that committed changes owe to the outside world.

A change (an incident declared, a role taken, an update, a resolution) writes the outside work it
owes as *steps* into an ``outbox`` row, in the change's own transaction. After the commit the
process that made the change delivers it at once; it holds the row's lease from the start, so no
claim is needed. A process killed half-way leaves the row pending under a short lease; when the
lease lapses the sweep that runs in every process (or the restarted one) finishes it.

Steps run in *waves*: consecutive steps that carry the same ``wave`` number run together (a
declare creates the channel, then invites the declarer and posts the card at once, then pins,
sets the topic, announces and posts the checklist at once). A step without a wave runs alone.
Progress is recorded after a wave that posted something or learned a fact, so a finished wave
never runs again. Each step is done by a *handler* that services register by name; a handler may
return facts about the incident (the channel's id, the card's ts), which are recorded with the
progress and seen by the later waves.

Posting is the one outside call that is not idempotent. Every post carries a mark naming its
item and step, and a retried item looks for its marked posts before posting again.

An incident's set-up (kind :data:`SETUP`) runs first; the rest of that incident's work waits
until the set-up has opened the incident, and is delivered the moment it has (a *kick*): nothing
ever waits for a lease to lapse in normal operation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from irbot.domain.incident import incident_ref
from irbot.outbound.errors import Refused
from irbot.store import repo
from irbot.store.models import Incident, OutboxItem
from irbot.tasks import Periodic, renew_every

from irbot.work.unit import UnitOfWork

if TYPE_CHECKING:
    from irbot.deps import Deps

log = logging.getLogger(__name__)

# Short, and renewed while delivering (a 429 wait can outlast it): after a kill -9 the work is
# taken over within LEASE + SWEEP_SECONDS.
LEASE = timedelta(seconds=5)
RENEW_SECONDS = 1.5
SWEEP_SECONDS = 2.0
MAX_ATTEMPTS = 6  # refusing the same step six times (with back-off) will not change a service's mind
SETUP = "setup"  # an incident's own set-up: nothing else of the incident runs before it; never given up
WEBHOOK = "webhook"  # items whose ``what`` starts so go to receivers outside Slack: no need to wait for Slack
RETRY_HERE_WITHIN = 30.0  # a retry due this soon is timed by this process, not left to the sweep
# A service with its own policy (retry_as) is gated: once it fails (5xx, 429, timeout), one item
# probes it at the policy's pace while the rest wait without touching the database; when the probe
# gets through, the rest are delivered at once, this many at a time.
PROBE_WINDOW = timedelta(seconds=12)  # a probe's outcome is awaited this long before another may try
FLUSH_AT_ONCE = 8

Step = dict[str, Any]
Facts = dict[str, Any]


@dataclass
class Job:
    """What a handler gets: the step's item, the incident as known so far, and whether a worker that
    died may already have done this step (then look before posting)."""

    item: OutboxItem
    incident: Incident
    index: int
    deps: "Deps"
    look_first: bool
    memo: dict[str, Any]  # shared by the item's steps in this run (one read serves them all)

    def on_finish(self, write: "Callable[[UnitOfWork], Awaitable[None]]") -> None:
        """Write this in the transaction that records the item done (the item's last wave only)."""
        self.memo.setdefault(_ON_FINISH, []).append(write)


_ON_FINISH = "on_finish"


Handler = Callable[[Step, Job], Awaitable["Facts | None"]]
RefusalHook = Callable[[Incident, str, "Deps"], Awaitable[None]]


def waves(steps: list[Step], start: int = 0) -> list[list[int]]:
    """Indexes of the steps from ``start`` on, grouped into the waves that run together."""
    groups: list[list[int]] = []
    for index in range(start, len(steps)):
        wave = steps[index].get("wave")
        if groups and wave is not None and steps[groups[-1][-1]].get("wave") == wave:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


@dataclass
class _Gate:
    closed_until: datetime | None = None  # no new tries before then (a probe may be under way)
    failures: int = 0  # in a row, across the service's items


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[float, ...] | None  # seconds before the 2nd, 3rd … attempt (the last repeats); None: 5·2ⁿ s
    give_up_after: int | None  # attempts; None: never
    timed_here: bool  # people are waiting: this process times the retry rather than the next sweep

    def delay(self, attempts: int) -> timedelta:
        if not self.delays:
            return timedelta(seconds=min(5 * 2 ** (attempts - 1), 300))
        return timedelta(seconds=self.delays[min(attempts, len(self.delays)) - 1])


def retry_policy(what: str, *, setup_delays: tuple[float, ...], webhook_delays: tuple[float, ...]) -> RetryPolicy:
    """A set-up is never given up (the incident is stored; people wait for its channel); a webhook
    follows its own delays, then gives up; Slack work backs off 5, 10, 20, 40, 80 s, then gives up."""
    if what == SETUP:
        return RetryPolicy(setup_delays, None, True)
    if what.startswith(WEBHOOK):
        return RetryPolicy(webhook_delays, len(webhook_delays) + 1, True)
    return RetryPolicy(None, MAX_ATTEMPTS, False)


class Engine:
    """Built once per app; services register the handlers of the steps they owe."""

    def __init__(self, deps: "Deps") -> None:
        self.deps = deps
        self._handlers: dict[str, Handler] = {}
        self._first_refusal: dict[str, RefusalHook] = {}
        self._given_up: dict[str, RefusalHook] = {}
        self._turns: dict[int, asyncio.Lock] = {}  # per incident: kicks take turns
        self._policies: dict[str, RetryPolicy] = {}  # by the prefix of ``what``, for work outside Slack
        self._ordered: set[str] = set()  # prefixes in _policies whose items keep their order among themselves
        self._gates: dict[str, _Gate] = {}  # per gated prefix in _policies: is that service known to be failing?

    def handle(self, action: str, handler: Handler) -> None:
        self._handlers[action] = handler

    def retry_as(self, prefix: str, policy: RetryPolicy, *, ordered: bool = False, gated: bool = True) -> None:
        """Work whose ``what`` starts with ``prefix:`` goes to another service than Slack: it follows
        ``policy`` and never waits behind the incident's Slack work. ``ordered``: its items keep their
        order among themselves (a page's resolve never overtakes its trigger). ``gated``: while the
        service fails, one item probes it and the rest wait (see _Gate)."""
        self._policies[prefix] = policy
        (self._ordered.add if ordered else self._ordered.discard)(prefix)
        if gated:
            self._gates[prefix] = _Gate()
        else:
            self._gates.pop(prefix, None)

    def on_first_refusal(self, what: str, hook: RefusalHook) -> None:
        """Tell someone when ``what`` is refused the first time (a declarer whose set-up failed)."""
        self._first_refusal[what] = hook

    def on_give_up(self, kind: str, hook: RefusalHook) -> None:
        """Tell someone when an item whose ``what`` is ``kind`` or ``kind:…`` is given up."""
        self._given_up[kind] = hook

    # ---- owing -------------------------------------------------------------------------------
    async def record(self, incident_id: int, what: str, steps: list[Step], *, session: Any,
                     held: bool = True) -> OutboxItem:
        """Add the item inside the caller's transaction; after the commit, :meth:`deliver_soon` it.

        ``held``: the item starts leased to this process, which delivers it right after the commit
        (no claim needed); if the process dies first, the lease lapses and the sweep takes over."""
        now = self.deps.clock()
        item = OutboxItem(incident_id=incident_id, what=what, steps=steps, created_at=now,
                          lease_until=now + LEASE if held else None, attempts=1 if held else 0)
        await repo.add_outbox(item, session=session)
        return item

    def deliver_soon(self, item: OutboxItem, *, incident: Incident | None = None) -> None:
        """Deliver a held item (see :meth:`record`) once its transaction has committed. A set-up is
        given its ``incident`` as just stored, which saves reading it back."""
        self.deps.tasks.spawn(self._deliver_held(item, incident), name=f"work-{item.what}-{item.id}")

    # ---- delivering --------------------------------------------------------------------------
    async def _deliver_held(self, item: OutboxItem, known: Incident | None = None) -> bool:
        assert item.id is not None
        if known is not None and item.what == SETUP:
            return await self._run(item, known)
        incident, behind = await self._subject(item.id)
        if incident is not None and not behind:
            self._probing(item.what)
            return await self._run(item, incident)
        # The incident's set-up is still running, or older work of the incident is still owed:
        # free the item so that a kick (the set-up's, in whichever process runs it, or this one's)
        # delivers the incident's work in order the moment it can.
        async with self.deps.db.session() as session:
            await repo.release_outbox(item.id, item.attempts, session=session)
            await session.commit()
        if (await self._subject(item.id))[0] is not None:  # open now (or was): deliver in order
            self.kick(item.incident_id)
        return False

    async def deliver(self, item_id: int) -> bool:
        """Claim the item and run its remaining steps; False when another worker holds it, its
        incident is not open yet (the set-up's kick delivers it), or a step was refused."""
        incident = await self._ready(item_id)
        if incident is None:
            return False
        now = self.deps.clock()
        async with self.deps.db.session() as session:
            item = await repo.claim_outbox(item_id, now=now, until=now + LEASE, session=session)
            await session.commit()
        if item is None:
            return False
        limit = self._policy(item.what).give_up_after
        if limit is not None and item.attempts > limit:
            await self._finish(item, state="failed", error=item.error or "gave up")
            return False
        self._probing(item.what)
        return await self._run(item, incident)

    async def deliver_pending(self, incident_id: int | None = None) -> int:
        """Deliver every pending item nobody holds, oldest first (start-up, the sweep, a kick).
        Returns how many finished. Kicks for one incident take turns, so its work keeps its order."""
        if incident_id is None:
            return await self._deliver_due(None)
        turn = self._turns.setdefault(incident_id, asyncio.Lock())
        try:
            async with turn:
                return await self._deliver_due(incident_id)
        finally:
            if not turn.locked():
                self._turns.pop(incident_id, None)

    async def _deliver_due(self, incident_id: int | None) -> int:
        now = self.deps.clock()
        closed = tuple(p for p, gate in self._gates.items() if gate.closed_until and now < gate.closed_until)
        async with self.deps.db.reader() as session:
            due = await repo.outbox_due(now=now, incident_id=incident_id, skip=closed, session=session)
        finished = 0
        for item_id in due:
            finished += await self.deliver(item_id)
        return finished

    def kick(self, incident_id: int) -> None:
        """The incident is open now: what waited for it runs at once."""
        self.deps.tasks.spawn(self.deliver_pending(incident_id), name=f"work-kick-{incident_id}")

    async def _ready(self, item_id: int) -> Incident | None:
        """The item's incident, or None while a non-set-up item's incident is not open in Slack yet."""
        return (await self._subject(item_id))[0]

    async def _subject(self, item_id: int) -> tuple[Incident | None, bool]:
        """:meth:`_ready`'s answer, and whether older work of the same incident is still owed."""
        async with self.deps.db.reader() as session:
            subject = await repo.outbox_subject(item_id, session=session, apart=tuple(self._policies))
        if subject is None:
            return None, False
        incident, what, behind = subject
        prefix = what.partition(":")[0]
        if prefix in self._policies:  # another service than Slack: no order to keep with Slack's work
            return (None if self._gated(what) else incident), behind and prefix in self._ordered
        if what == SETUP or what.startswith(WEBHOOK) or (incident.setup == "open" and incident.channel_id):
            return incident, behind
        return None, behind

    async def _run(self, item: OutboxItem, incident: Incident) -> bool:
        lease = _Lease(item, self.deps)
        renewing = asyncio.get_running_loop().create_task(
            renew_every(RENEW_SECONDS, lease.renew, what=f"outbox item {item.id}"))
        # A retried item's previous worker may have died after any step up to and including its
        # first unrecorded post: look for posts until this worker has recorded one of its own.
        retried = item.attempts > 1
        groups = waves(item.steps, item.done)
        learned: Facts = {}  # facts not recorded yet (they are, at the next checkpoint or the end)
        memo: dict[str, Any] = {}
        try:
            for number, group in enumerate(groups):
                if not lease.held:
                    log.warning("outbox item %s (%s): lease lost; leaving it to its new holder", item.id, item.what)
                    return False
                facts, refused = await self._run_wave(group, item, incident, retried, memo)
                if refused is not None:
                    await self._give_back(item, incident, refused)
                    return False
                for key, value in facts.items():
                    setattr(incident, key, value)
                learned.update(facts)
                if number == len(groups) - 1:
                    await self._finish(item, state="done", facts=learned, also=memo.get(_ON_FINISH, ()))
                    self._got_through(item.what)
                elif self._checkpoint(item, group):
                    if not await lease.record_progress(group[-1] + 1, learned):
                        return False
                    learned, retried = {}, False
        finally:
            renewing.cancel()
        if item.what == SETUP:
            self.kick(incident.id)
        return True

    async def _run_wave(self, group: list[int], item: OutboxItem, incident: Incident, retried: bool,
                        memo: dict[str, Any]) -> tuple[Facts, Refused | None]:
        """Run one wave's steps together; returns the facts they learned and the first refusal."""
        jobs = [Job(item=item, incident=incident, index=i, deps=self.deps, look_first=retried, memo=memo)
                for i in group]
        results = await asyncio.gather(*(self._step(item.steps[job.index], job) for job in jobs),
                                       return_exceptions=True)
        facts: Facts = {}
        refused: Refused | None = None
        for index, result in zip(group, results):
            step = item.steps[index]
            if isinstance(result, Refused):
                if step.get("best_effort"):
                    log.warning("outbox item %s (%s): skipped a %s step: %s", item.id, item.what, step["do"],
                                result.code)
                elif refused is None:
                    refused = result
            elif isinstance(result, BaseException):
                raise result
            elif result:
                facts.update(result)
        return facts, refused

    async def _step(self, step: Step, job: Job) -> Facts | None:
        handler = self._handlers.get(step["do"])
        if handler is None:
            raise ValueError(f"unknown outbox step {step['do']!r}")
        return await handler(step, job)

    @staticmethod
    def _checkpoint(item: OutboxItem, group: list[int]) -> bool:
        """Record progress after this wave? After a step that asks for it, and after posts of work
        other than a set-up (a set-up's posts are all marked and looked for on a retry, and its
        facts are recorded at the end; a brief's DM cannot be looked for)."""
        steps = [item.steps[i] for i in group]
        return any(step.get("checkpoint") for step in steps) or (
            item.what != SETUP and any(step["do"] in POSTING for step in steps))

    def _policy(self, what: str) -> RetryPolicy:
        if (own := self._policies.get(what.partition(":")[0])) is not None:
            return own
        return retry_policy(what, setup_delays=self.deps.setup_retry_delays,
                            webhook_delays=self.deps.webhook_retry_delays)

    async def _give_back(self, item: OutboxItem, incident: Incident, refusal: Refused) -> None:
        """A step was refused: retry later with back-off (not sooner than the service's Retry-After),
        or give up as the item's policy says (at once when the refusal is final)."""
        ref, policy, code = incident_ref(incident.number), self._policy(item.what), refusal.code
        if (item.attempts == 1 or refusal.final) and (hook := self._first_refusal.get(item.what)) is not None:
            await hook(incident, code, self.deps)
        if refusal.final or (policy.give_up_after is not None and item.attempts >= policy.give_up_after):
            log.error("%s: gave up on %s after %d attempts: %s", ref, self._side(item.what), item.attempts, code)
            await self._finish(item, state="failed", error=code)
            if item.what.startswith(WEBHOOK):
                self.deps.metrics.webhook_deliveries.labels(outcome="gave_up").inc()
            if (hook := self._given_up.get(item.what.partition(":")[0])) is not None:
                await hook(incident, code, self.deps)
            return
        delay = max(policy.delay(item.attempts), timedelta(seconds=refusal.retry_after or 0))
        if (gate := self._gates.get(item.what.partition(":")[0])) is not None:
            gate.failures += 1  # the service is failing: its items wait for one probe at the policy's pace
            delay = max(policy.delay(gate.failures), timedelta(seconds=refusal.retry_after or 0))
            gate.closed_until = self.deps.clock() + delay
        log.warning("%s: %s was refused (%s); retrying in %gs", ref, self._side(item.what), code,
                    delay.total_seconds())
        await self._finish(item, state="pending", error=code, retry_at=self.deps.clock() + delay)
        if policy.timed_here and delay.total_seconds() <= RETRY_HERE_WITHIN:
            self.deps.tasks.spawn(self._retry_after(item.id, delay.total_seconds()), name=f"work-retry-{item.id}")

    def _gated(self, what: str) -> bool:
        """True: the service is failing and it is not time to try it again."""
        gate = self._gates.get(what.partition(":")[0])
        return gate is not None and gate.closed_until is not None and self.deps.clock() < gate.closed_until

    def _probing(self, what: str) -> None:
        """This item is about to try a failing service: the others wait for its outcome (PROBE_WINDOW)."""
        gate = self._gates.get(what.partition(":")[0])
        if gate is not None and gate.failures:
            gate.closed_until = self.deps.clock() + PROBE_WINDOW

    def _got_through(self, what: str) -> None:
        """An item of a gated service was delivered: if it had been failing, deliver what waited."""
        prefix = what.partition(":")[0]
        gate = self._gates.get(prefix)
        if gate is not None and (gate.failures or gate.closed_until):
            self._gates[prefix] = _Gate()
            self.deps.tasks.spawn(self._flush(prefix), name=f"work-flush-{prefix}")

    async def _flush(self, prefix: str) -> None:
        async with self.deps.db.reader() as session:
            due = await repo.outbox_due(now=self.deps.clock(), only=prefix, session=session)
        turns = asyncio.Semaphore(FLUSH_AT_ONCE)

        async def one(item_id: int) -> None:
            async with turns:
                await self.deliver(item_id)
        await asyncio.gather(*(one(item_id) for item_id in due))

    def _side(self, what: str) -> str:
        kind, _, name = what.partition(":")
        return f"the {kind} side of {name}" if kind in self._policies else _outside_side(what)

    async def _retry_after(self, item_id: int | None, seconds: float) -> None:
        assert item_id is not None
        await asyncio.sleep(seconds)
        await self.deliver(item_id)

    async def _finish(self, item: OutboxItem, *, state: str, error: str | None = None,
                      retry_at: datetime | None = None, facts: Facts | None = None,
                      also: "Iterable[Callable[[UnitOfWork], Awaitable[None]]]" = ()) -> None:
        """Unless another worker has claimed the item meanwhile (then the outcome is theirs to record).
        ``also``: what the last wave's steps asked to write in the same transaction."""
        assert item.id is not None
        async with UnitOfWork(self.deps) as unit:
            await repo.finish_outbox(item.id, item.attempts, state=state, error=error, retry_at=retry_at,
                                     session=unit.session)
            if facts:
                await repo.update_incident(item.incident_id, session=unit.session, **facts)
            for write in also:
                await write(unit)


def _outside_side(what: str) -> str:
    return f"the webhook delivery of {what.partition(':')[2] or what}" if what.startswith(WEBHOOK) \
        else f"the Slack side of {what}"


# Steps that post a message: progress is recorded after them, and a retry looks for them first.
POSTING = frozenset({"post", "post_card", "announce", "checklist"})


class _Lease:
    """This worker's hold on an item. It is lost when another worker has claimed the item (a write
    found the row claimed again), or when renewals have failed for a whole lease, after which
    another worker may claim it at any moment: either way this worker stops before its next wave."""

    def __init__(self, item: OutboxItem, deps: "Deps") -> None:
        assert item.id is not None and item.lease_until is not None
        self.item_id, self.incident_id, self.attempt, self.deps = item.id, item.incident_id, item.attempts, deps
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

    async def record_progress(self, done: int, facts: Facts) -> bool:
        until = self.deps.clock() + LEASE
        async with self.deps.db.session() as session:
            recorded = await repo.outbox_step_done(self.item_id, self.attempt, done, until=until, session=session)
            if recorded and facts:
                await repo.update_incident(self.incident_id, session=session, **facts)
            await session.commit()
        self._still_ours(recorded, until)
        return recorded

    def _still_ours(self, written: bool, until: datetime) -> None:
        if written:
            self.until = until
        else:
            self.lost = True


class Sweeper(Periodic):
    """Every SWEEP_SECONDS, finish what a dead process or a refused step left behind."""

    def __init__(self, engine: Engine, every: float = SWEEP_SECONDS) -> None:
        super().__init__("outbox-sweep", engine.deliver_pending, every)
        self.engine = engine
