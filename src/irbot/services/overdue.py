"""Open follow-ups across incidents: ``/incident followups``, and the overdue digest.

Once a business day, at 09:00 in the settings' time zone (or as soon after as irbot runs), each
owner of open action items past their due date gets one DM listing them. Each (owner, day) is
claimed in the database before the DM is sent, so restarts and replicas never send it twice; a
claim whose sender died is taken again once its lease has lapsed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from irbot.deps import Deps
from irbot.outbound.slack import SlackCallError
from irbot.services import surfaces, visibility
from irbot.store import repo
from irbot.store.models import ActionItem, Incident, TrackerIssue
from irbot.tasks import Periodic
from irbot.views.messages import overdue as messages
from irbot.views.messages.overdue import FollowUp

log = logging.getLogger(__name__)

DIGEST_HOUR = 9
CHECK_EVERY = 60.0  # seconds between looks at the clock
CLAIM_LEASE = timedelta(minutes=5)
Row = tuple[ActionItem, Incident, TrackerIssue | None]


def today(deps: Deps, now: datetime | None = None) -> datetime:
    return (now or deps.clock()).astimezone(ZoneInfo(deps.settings.timezone))


def _follow_up(row: Row) -> FollowUp:
    item, incident, issue = row
    return FollowUp(item=item, incident=surfaces.facts_of(incident), issue=issue)


# ---- /incident followups -------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUpsSeen:
    follow_ups: list[FollowUp]  # every open item the viewer may see
    today: str                  # the date (ISO, in the settings' time zone) that makes an item overdue


async def visible_followups(deps: Deps, viewer: str) -> FollowUpsSeen:
    """The open items of every incident the viewer may see (a private one only to its members)."""
    async with deps.db.reader() as session:
        rows = await repo.open_items(session=session)
    incidents = list({incident.id: incident for _, incident, _ in rows}.values())
    seen = {incident.id for incident in await visibility.visible_to(deps, viewer, incidents)}
    return FollowUpsSeen(follow_ups=[_follow_up(row) for row in rows if row[1].id in seen],
                         today=today(deps).date().isoformat())


# ---- the overdue digest --------------------------------------------------------------------------
async def send_overdue_digests(deps: Deps) -> int:
    """Send today's digests not sent yet, if it is a business day and 09:00 has passed. Returns how many."""
    local = today(deps)
    if local.weekday() >= 5 or local.hour < DIGEST_HOUR:
        return 0
    day = local.date().isoformat()
    async with deps.db.reader() as session:
        rows = await repo.open_items(due_before=day, session=session)
    owners: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row[0].owner_id:
            owners[row[0].owner_id].append(row)
    sent = 0
    for owner, owned in owners.items():
        sent += await _send_one(owner, owned, day, deps)
    return sent


async def _send_one(owner: str, rows: list[Row], day: str, deps: Deps) -> int:
    now = deps.clock()
    # Not a unit of work: a compare-and-set claim of this owner's digest for the day, owing nothing.
    async with deps.db.session() as session:
        claimed = await repo.claim_digest(owner, day, now=now, lease_until=now + CLAIM_LEASE, session=session)
        await session.commit()
    if not claimed:
        return 0  # sent today already, or being sent by another replica
    text = messages.digest(deps.renderer, [_follow_up(row) for row in rows], today=day)
    try:
        await deps.slack.post(owner, {"text": text})
    except SlackCallError as exc:
        log.warning("could not DM the overdue follow-ups to %s: %s", owner, exc.code)
        return 0  # the claim's lease lapses: tried again at the next look
    # Not a unit of work: the claim marked done once its DM is out; no fact of an incident's, nothing owed.
    async with deps.db.session() as session:
        await repo.digest_sent(owner, day, session=session)
        await session.commit()
    deps.metrics_reminder("followups_overdue")
    return 1


class DigestLoop(Periodic):
    """Looks at the clock every minute in the process that runs the scheduler."""

    def __init__(self, deps: Deps, every: float = CHECK_EVERY) -> None:
        super().__init__("followup-digests", self._look, every)
        self.deps = deps

    async def _look(self) -> None:
        scheduler = self.deps.scheduler
        if scheduler is not None and scheduler.is_leader:
            await send_overdue_digests(self.deps)
