"""The Home tab: each person's open incidents, roles and action items, and a Declare button.

Published with ``views.publish`` when the person opens the tab (one round trip: everything else
is read from the database), and again when one of their incidents changes: the engine's redraw of
an incident (``services.outbox``'s refresh step, posts about action items, and the end of a
set-up) asks for it here, and each person's tab is published at most once every ``REFRESH_EVERY``
across processes (a burst of changes gives one publish now and one when the interval has passed,
showing the latest state). The planned publish lives in the process that planned it: a crash
loses it, and the next change or the next opening of the tab publishes again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.outbound.slack import SlackCallError
from irbot.services import visibility
from irbot.services.surfaces import facts_of
from irbot.store import repo
from irbot.store.models import Incident
from irbot.views import home as home_view

log = logging.getLogger(__name__)
REFRESH_EVERY = 5.0  # seconds between two publishes of one person's Home tab
MAX_INCIDENTS = 40   # shown; the rest are counted (a Home view holds at most 100 blocks)
MAX_ACTIONS = 30
# Owed posts (by the ``what`` of their item) that change what a Home tab shows without a redraw.
SHOWN_CHANGES = frozenset({"action_added", "action_status"})


async def visible_open_incidents(deps: Deps, viewer: str) -> list[Any]:
    """Open incidents the person may see, read from what is stored (no Slack call); read-only rows
    with an Incident's attributes."""
    async with deps.db.reader() as session:
        incidents = await repo.open_incident_rows(session=session)
    return await visibility.visible_to(deps, viewer, incidents)


async def home_of(deps: Deps, viewer: str) -> dict[str, Any]:
    """The person's Home view, from the database."""
    return render(deps, await home_data(deps, viewer))


async def home_data(deps: Deps, viewer: str) -> dict[str, Any]:
    """What the Home view shows, read from the database (the view's arguments, rendering aside)."""
    incidents = await visible_open_incidents(deps, viewer)
    ids = [i.id for i in incidents if i.id is not None]
    async with deps.db.reader() as session:
        roles = await repo.roles_by_incident(viewer, ids, session=session)
        commanders = await repo.commanders(ids, session=session)
        actions = await repo.open_actions_owned_by(viewer, limit=MAX_ACTIONS + 1, session=session)
    now = deps.clock()
    today = now.astimezone(ZoneInfo(deps.settings.timezone)).date().isoformat()
    role_names = {r.key: r.name for r in deps.settings.roles}
    # Theirs first (a role held), then the most severe, then the newest.
    incidents.sort(key=lambda i: (i.id not in roles, i.severity, -i.number))
    shown = [home_view.IncidentLine(facts=facts_of(i), commander=commanders.get(i.id or 0),
                                    roles=[role_names.get(k, k) for k in roles.get(i.id or 0, [])],
                                    age=now - i.declared_at)
             for i in incidents[:MAX_INCIDENTS]]
    items = [home_view.ActionLine(number=item.number, text=item.text, ref=incident_ref(number), private=private,
                                  channel_id=channel, due=item.due, overdue=bool(item.due and item.due < today),
                                  status=item.status)
             for item, number, private, channel in actions[:MAX_ACTIONS]]
    return {"incidents": shown, "more_incidents": len(incidents) - len(shown), "actions": items,
            "more_actions": len(actions) > MAX_ACTIONS, "now": now}


def render(deps: Deps, data: dict[str, Any]) -> dict[str, Any]:
    return home_view.home_view(deps.renderer, **data)


async def publish(deps: Deps, viewer: str) -> None:
    """Render and publish the person's Home tab (one Slack call)."""
    await deps.slack.call("views.publish", user_id=viewer, view=await home_of(deps, viewer))


# --- refreshing when an incident changes -------------------------------------------------------
# Pacing is in real time (not the app's clock, which tests may stop) and in the database, so that
# replicas sharing PostgreSQL take turns: a publish first claims the viewer's slot (the last one is
# at least REFRESH_EVERY old); a process that cannot waits until the slot frees and tries again.

_waiting: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def opened(deps: Deps, viewer: str) -> None:
    """The person opened the tab: publish now (and count it for the pacing)."""
    # Not a unit of work: the pacing's bookkeeping (when the tab was published), owing nothing.
    async with deps.db.session() as session:
        await repo.home_published(viewer, _now(), session=session)
        await session.commit()
    await _publish_quietly(deps, viewer)


async def incident_changed(incident: Incident, deps: Deps) -> None:
    """Called from the engine's redraw of an incident: republish the Home tab of the people whose
    incident it is (declarer, role holders, action item owners) who have one, paced per person."""
    async with deps.db.reader() as session:
        viewers = await repo.home_viewers_of(incident, session=session)
    waiting = _waiting.setdefault(deps.db, set())
    for viewer in viewers:
        if viewer in waiting:
            continue  # a publish is planned here: it will read the latest state
        waiting.add(viewer)
        deps.tasks.spawn(_paced_publish(deps, viewer), name="home-refresh")


async def _paced_publish(deps: Deps, viewer: str) -> None:
    waiting = _waiting.setdefault(deps.db, set())
    try:
        for _ in range(3):  # another replica may take the slot first; it then shows the latest state
            # Not a unit of work: a compare-and-set claim of the person's publishing slot, owing nothing.
            async with deps.db.session() as session:
                wait = await repo.claim_home_slot(viewer, now=_now(), every=timedelta(seconds=REFRESH_EVERY),
                                                  session=session)
                await session.commit()
            if wait is None:
                break
            await asyncio.sleep(wait)
        else:
            return
    finally:
        waiting.discard(viewer)  # changes from here on plan another publish
    await _publish_quietly(deps, viewer)


async def _publish_quietly(deps: Deps, viewer: str) -> None:
    """A Home tab is a view of what is stored: a failed publish is redone by the next change or
    the next time the person opens the tab, so it is logged, not retried."""
    try:
        await publish(deps, viewer)
    except SlackCallError as exc:
        log.warning("could not publish the Home tab of %s: %s", viewer, exc.code)
