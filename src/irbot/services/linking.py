""""Add to incident timeline": a message from any channel joins an open incident's timeline at its
own time, as a key event (author, time, text, permalink) in the evidence log; the incident's
channel is told."""

from __future__ import annotations

from enum import Enum

from irbot.deps import Deps
from irbot.domain.status import Status
from irbot.services import outbox, surfaces, visibility
from irbot.services.origin import record_source, source_time
from irbot.store import repo
from irbot.store.models import Incident
from irbot.views.messages import origin as messages
from irbot.work.unit import UnitOfWork


class Linked(Enum):
    ADDED = "added"
    ALREADY = "already"  # on that timeline already
    STALE = "stale"      # the incident was resolved since the form opened
    GONE = "gone"        # no such incident, or not one the person may see


async def link_message(incident_id: int, source: dict, *, actor: str, note: str,
                       deps: Deps) -> tuple[Linked, Incident | None]:
    async with deps.db.reader() as session:
        incident = await repo.get_incident(incident_id, session=session)
    if incident is None:
        return Linked.GONE, None
    if not Status(incident.status).is_open:
        return Linked.STALE, incident
    if not await visibility.visible_to(deps, actor, [incident]):
        return Linked.GONE, incident
    unreadable = messages.unreadable_text(deps.renderer)
    async with UnitOfWork(deps) as unit:
        added = await record_source(incident_id, source, added_by=actor, note=note.strip(), session=unit.session,
                                    unreadable_text=unreadable)
        if added and incident.channel_id:
            text = messages.linked(deps.renderer, incident=surfaces.facts_of(incident), adder=actor,
                                   author=source.get("user"), at=source_time(source), permalink=source.get("permalink"),
                                   text=source.get("text") or unreadable, note=note.strip())
            await outbox.owe_message(unit, incident, "message_linked", text)
    return (Linked.ADDED if added else Linked.ALREADY), incident
