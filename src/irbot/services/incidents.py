"""Looking incidents up for the listeners, which never query the database themselves."""

from __future__ import annotations

from irbot.deps import Deps
from irbot.store import repo
from irbot.store.models import Incident


async def incident_with_id(deps: Deps, incident_id: object) -> Incident | None:
    """The incident a form or button remembered in its metadata (anything else finds none)."""
    if not isinstance(incident_id, int) or isinstance(incident_id, bool):
        return None
    async with deps.db.reader() as session:
        return await repo.get_incident(incident_id, session=session)


async def incident_in_channel(deps: Deps, channel_id: str | None) -> Incident | None:
    if not channel_id:
        return None
    async with deps.db.reader() as session:
        return await repo.incident_by_channel(channel_id, session=session)
