"""Who is in a private incident's channel, as Slack says, stored so that checks answer fast.

irbot does not take a request's word that its sender may see a private incident: whoever holds
the signing secret can write any user and channel into a request. The members come from
``conversations.members`` (irbot's own call, with its bot token) and are stored per channel;
``member_left_channel`` takes a person out at once, while ``member_joined_channel`` only makes irbot
ask Slack again (an event is a claim that a forged request could make too). A stored list older
than ``ROSTER_TTL`` is asked again before it lets anyone in, which covers events missed while
irbot was down.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from irbot.deps import Deps
from irbot.domain.permissions import Refusal, may_enter, vouched_for
from irbot.services import surfaces
from irbot.outbound.slack import SlackCallError
from irbot.store import repo
from irbot.store.models import Incident

log = logging.getLogger(__name__)

# A stored member list is trusted to let someone in for this long; then Slack is asked again.
ROSTER_TTL = timedelta(minutes=15)
# Someone missing from a stored list is looked up in Slack again at most this often per channel
# (they may have joined a moment ago), so forged requests cannot make irbot call Slack at will.
RECHECK_AFTER = timedelta(seconds=10)
MAX_REMEMBERED = 10_000  # public incidents remembered per process; only a guard against misuse


class _Work:
    """This process's loads in flight, per database (tests run several apps in one process)."""

    def __init__(self) -> None:
        self.locks: dict[str, asyncio.Lock] = {}
        self.refreshing: set[str] = set()
        # Incidents known to be public (privacy is fixed at declare): their requests need no check.
        self.public: set[int] = set()


_work: weakref.WeakKeyDictionary[object, _Work] = weakref.WeakKeyDictionary()


def _work_of(deps: Deps) -> _Work:
    return _work.setdefault(deps.db, _Work())


async def entry_refusal(incident: Incident, actor: str, deps: Deps) -> Refusal | None:
    """None when the person may see and act on the incident; else why not."""
    if not incident.private:
        return None
    holders = {user for user in (await surfaces.holders_of(incident.id, deps)).values() if user}
    vouched = vouched_for(actor, admins=frozenset(deps.settings.admins), holders=holders)
    in_channel = vouched
    if not vouched and incident.channel_id:
        in_channel = await in_channel_now(deps, incident.channel_id, actor)
    refusal = may_enter(private=True, vouched=vouched, in_channel=in_channel)
    if refusal is None:
        return None
    log.warning("refused %s on private INC-%d: not in its channel", actor, incident.number)
    return refusal


def known_public(deps: Deps, incident_id: int) -> bool:
    return incident_id in _work_of(deps).public


def remember_public(deps: Deps, incident: Incident) -> None:
    public = _work_of(deps).public
    if incident.id is not None and not incident.private:
        if len(public) >= MAX_REMEMBERED:
            public.clear()
        public.add(incident.id)


async def in_channel_now(deps: Deps, channel_id: str, user_id: str) -> bool:
    """Is the person in the channel? The stored list when it is fresh, else Slack's answer."""
    async with deps.db.reader() as session:
        stored, loaded_at = await repo.roster_entry(channel_id, user_id, session=session)
    age = deps.clock() - loaded_at if loaded_at is not None else None
    if stored and age is not None and age < ROSTER_TTL:
        return True
    if not stored and age is not None and age < RECHECK_AFTER:
        return False
    members = await load(deps, channel_id)
    return stored if members is None else user_id in members


async def visible_channels(deps: Deps, viewer: str, channel_ids: list[str]) -> set[str]:
    """Of these channels, the ones the stored lists put the viewer in; no call to Slack (this answers
    within a command's ack). Lists never read or gone stale are refreshed afterwards, in the background."""
    async with deps.db.reader() as session:
        found = await repo.channels_with_member(viewer, channel_ids, session=session)
        loaded = await repo.rosters_loaded(channel_ids, session=session)
    now = deps.clock()
    stale = [c for c in channel_ids if c not in loaded or now - loaded[c] >= ROSTER_TTL]
    work = _work_of(deps)
    stale = [c for c in stale if c not in work.refreshing]
    if stale:
        work.refreshing.update(stale)
        deps.tasks.spawn(_refresh_all(deps, stale), name="refresh-members")
    return found


async def _refresh_all(deps: Deps, channel_ids: list[str]) -> None:
    """One channel after another: conversations.members is Tier 4 (100 a minute), plenty for this."""
    try:
        for channel_id in channel_ids:
            await load(deps, channel_id)
    finally:
        _work_of(deps).refreshing.difference_update(channel_ids)


async def load(deps: Deps, channel_id: str) -> set[str] | None:
    """Read the channel's members from Slack and store them; None when Slack did not answer."""
    lock = _work_of(deps).locks.setdefault(channel_id, asyncio.Lock())
    async with lock:  # two loads of one channel in a row: the later answer is stored last
        started = deps.clock()
        try:
            members = {m async for m in deps.slack.paginate("conversations.members", "members",
                                                           channel=channel_id, limit=1000)}
        except SlackCallError as exc:
            log.warning("conversations.members for %s failed: %s", channel_id, exc.code)
            return None
        try:  # not a unit of work: a copy of Slack's member list, no change of irbot's and nothing owed
            async with deps.db.session() as session:
                await repo.replace_roster(channel_id, sorted(members), loaded_at=started, session=session)
                await session.commit()
        except IntegrityError:  # another replica stored the same list at the same moment
            pass
    return members


async def member_joined(deps: Deps, channel_id: str) -> None:
    """A join event: ask Slack who is in the channel now (the event itself is only a claim)."""
    if await _private_incident_channel(deps, channel_id):
        await load(deps, channel_id)


async def member_left(deps: Deps, channel_id: str, user_id: str) -> None:
    """A leave event: take the person out at once (believing it can only narrow who gets in)."""
    # Not a unit of work: the stored copy of Slack's member list follows Slack, owing nothing.
    async with deps.db.session() as session:
        await repo.remove_member(channel_id, user_id, session=session)
        await session.commit()


async def _private_incident_channel(deps: Deps, channel_id: str) -> bool:
    return await deps.channels.is_private_incident(channel_id)
