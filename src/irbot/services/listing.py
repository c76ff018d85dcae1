"""``/incident list``: open incidents, private ones only to people in their channel.

Answered within the command's ack from what is stored (one query for the incidents, one for the
viewer's places), however many private incidents are open: asking Slack for each channel's
members took ~80 ms apiece and passed Slack's 3 s at a few dozen.
"""

from __future__ import annotations

from irbot.deps import Deps
from irbot.domain.permissions import may_enter, vouched_for
from irbot.services import membership
from irbot.services.surfaces import facts_of
from irbot.store import repo


async def open_incidents_text(deps: Deps, *, viewer: str) -> str:
    async with deps.db.reader() as session:
        incidents = await repo.open_incidents(session=session)
        private = [i for i in incidents if i.private]
        holding = await repo.roles_held_by(viewer, [i.id for i in private if i.id is not None], session=session)
    channels = await membership.visible_channels(deps, viewer, [i.channel_id for i in private if i.channel_id])
    admins = frozenset(deps.settings.admins)
    visible = []
    for incident in incidents:
        vouched = vouched_for(viewer, admins=admins, holders={viewer} if incident.id in holding else set())
        if may_enter(private=incident.private, vouched=vouched, in_channel=incident.channel_id in channels) is None:
            visible.append(facts_of(incident))
    return deps.renderer.part("incident_list.j2", "text", incidents=visible)
