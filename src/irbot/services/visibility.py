"""Who may see which incident: a private one shows only to the people in its channel, its role
holders and the admins. ``/incident list``, ``/incident followups``, the Home tab and the link
shortcut all ask here, so the rule is written once."""

from __future__ import annotations

from typing import Protocol, Sequence, TypeVar

from irbot.deps import Deps
from irbot.domain.permissions import may_enter, vouched_for
from irbot.services import membership
from irbot.store import repo


class _Placed(Protocol):
    """What deciding who may see an incident reads of it (an Incident, or a plain row of one)."""
    id: int | None
    private: bool
    channel_id: str | None


Placed = TypeVar("Placed", bound=_Placed)


async def visible_to(deps: Deps, viewer: str, incidents: Sequence[Placed]) -> list[Placed]:
    """Of these incidents, in their order, the ones the viewer may see. Read from what is stored (the
    roles held and the channels' stored member lists), with no call to Slack, so a command answers
    within its ack however many private incidents are open."""
    private = [i for i in incidents if i.private]
    if not private:
        return list(incidents)
    async with deps.db.reader() as session:
        holding = await repo.roles_held_by(viewer, [i.id for i in private if i.id is not None], session=session)
    channels = await membership.visible_channels(deps, viewer, sorted({i.channel_id for i in private if i.channel_id}))
    admins = frozenset(deps.settings.admins)

    def may_see(incident: Placed) -> bool:
        vouched = vouched_for(viewer, admins=admins, holders={viewer} if incident.id in holding else set())
        return may_enter(private=incident.private, vouched=vouched, in_channel=incident.channel_id in channels) is None

    return [incident for incident in incidents if may_see(incident)]
