"""``/incident list``: open incidents, private ones only to people in their channel."""

from __future__ import annotations

from irbot.deps import Deps
from irbot.services.surfaces import facts_of
from irbot.outbound.slack import SlackCallError
from irbot.store import repo


async def is_member(deps: Deps, channel_id: str, user_id: str) -> bool:
    try:
        async for member in deps.slack.paginate("conversations.members", "members", channel=channel_id, limit=1000):
            if member == user_id:
                return True
    except SlackCallError:
        pass
    return False


async def open_incidents_text(deps: Deps, *, viewer: str) -> str:
    async with deps.db.session() as session:
        incidents = await repo.open_incidents(session=session)
    visible = []
    for incident in incidents:
        if incident.private:
            if not incident.channel_id or not await is_member(deps, incident.channel_id, viewer):
                continue
        visible.append(facts_of(incident))
    return deps.renderer.part("incident_list.j2", "text", incidents=visible)
