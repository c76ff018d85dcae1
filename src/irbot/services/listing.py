"""``/incident list``: open incidents, private ones only to people in their channel.

Answered within the command's ack from what is stored (one query for the incidents, one for the
viewer's places), however many private incidents are open: asking Slack for each channel's
members took ~80 ms apiece and passed Slack's 3 s at a few dozen.
"""

from __future__ import annotations

from irbot.deps import Deps
from irbot.domain.incident import IncidentFacts
from irbot.services import visibility
from irbot.services.surfaces import facts_of
from irbot.store import repo


async def open_incidents_seen_by(deps: Deps, *, viewer: str) -> list[IncidentFacts]:
    async with deps.db.reader() as session:
        incidents = await repo.open_incidents(session=session)
    return [facts_of(incident) for incident in await visibility.visible_to(deps, viewer, incidents)]
