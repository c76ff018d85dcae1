"""The places an incident shows itself: the pinned card, the channel topic, the announcement.

Each is rendered from the stored incident, so refreshing is always "render and replace in place".
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from irbot.deps import Deps
from irbot.domain.incident import IncidentFacts
from irbot.domain.roles import COMMANDER
from irbot.views import blocks
from irbot.views.messages import surfaces as messages
from irbot.store import repo
from irbot.store.models import Incident


def facts_of(incident: Incident) -> IncidentFacts:
    assert incident.id is not None
    return IncidentFacts(
        id=incident.id, number=incident.number, title=incident.title, severity=incident.severity,
        type=incident.type, status=incident.status, private=incident.private, drill=incident.drill,
        summary=incident.summary, services=incident.services, affected_users=incident.affected_users,
        declarer_id=incident.declarer_id, channel_id=incident.channel_id, declared_at=incident.declared_at,
        resolved_at=incident.resolved_at, origin_permalink=incident.origin_permalink,
    )


async def holders_of(incident_id: int, deps: Deps) -> dict[str, str | None]:
    async with deps.db.reader() as session:
        rows = await repo.roles_of(incident_id, session=session)
    return {key: row.user_id for key, row in rows.items()}


async def holders_and_clocks(incident_id: int, deps: Deps) -> tuple[dict[str, str | None], list]:
    """What the card shows besides the incident itself, in one read."""
    async with deps.db.reader() as session:
        rows = await repo.roles_of(incident_id, session=session)
        clocks = await repo.clocks_of(incident_id, session=session)
    return {key: row.user_id for key, row in rows.items()}, clocks


async def card_message(incident: Incident, holders: dict[str, str | None], deps: Deps,
                       clocks: list | None = None) -> blocks.Message:
    settings = deps.settings
    pages: list = []
    if clocks is None or (settings.pagerduty is not None and incident.setup == "open"):
        async with deps.db.reader() as session:
            if clocks is None:
                clocks = await repo.clocks_of(incident.id, session=session)
            if settings.pagerduty is not None:  # the pages PagerDuty has, open or acknowledged
                pages = await repo.pages_of(incident.id, session=session)
    return blocks.incident_card(deps.renderer, facts_of(incident), settings.severity(incident.severity),
                                settings.roles, holders, settings.severities, clocks, pages=pages)


def announcement_message(incident: Incident, holders: dict[str, str | None], deps: Deps) -> blocks.Message:
    return blocks.announcement(deps.renderer, facts_of(incident), deps.settings.severity(incident.severity),
                               holders.get(COMMANDER))


async def topic_text(incident: Incident, holders: dict[str, str | None], deps: Deps) -> str:
    commander_name = await deps.workspace.name_of(holders.get(COMMANDER))
    return messages.topic(deps.renderer, incident=facts_of(incident), severity=deps.settings.severity(incident.severity),
                          commander_name=commander_name)


async def refresh_surfaces(incident: Incident, deps: Deps) -> None:
    """Update card, topic and announcement in place after any change to the incident (all at once:
    people are watching the card)."""
    assert incident.id is not None
    holders = await holders_of(incident.id, deps)
    await asyncio.gather(_redraw_card(incident, holders, deps), _retopic(incident, holders, deps),
                         _redraw_announcement(incident, holders, deps))


async def _redraw_card(incident: Incident, holders: dict[str, str | None], deps: Deps) -> None:
    if incident.channel_id and incident.card_ts:
        await deps.slack.update(incident.channel_id, incident.card_ts,
                                (await card_message(incident, holders, deps)).as_args())


async def _retopic(incident: Incident, holders: dict[str, str | None], deps: Deps) -> None:
    if not incident.channel_id:
        return
    topic = await topic_text(incident, holders, deps)
    if topic != incident.topic:
        await deps.slack.set_topic(incident.channel_id, topic)
        # Not a unit of work: delivery noting what Slack now shows (so an unchanged topic is not
        # set again); no change of the incident's and nothing owed.
        async with deps.db.session() as session:
            await repo.update_incident(incident.id, topic=topic, session=session)
            await session.commit()


async def _redraw_announcement(incident: Incident, holders: dict[str, str | None], deps: Deps) -> None:
    if incident.announce_channel_id and incident.announce_ts and not incident.private:
        await deps.slack.update(incident.announce_channel_id, incident.announce_ts,
                                announcement_message(incident, holders, deps).as_args())


def drill_marked(incident: Incident, text: str, deps: Deps) -> str:
    return messages.drill_marked(deps.renderer, text, drill=incident.drill)


def message_for(incident: Incident, text: str, deps: Deps) -> blocks.Message:
    """A message of the incident's, marked when the incident is a drill."""
    return messages.incident_message(deps.renderer, text, drill=incident.drill)


def incident_mark(event_type: str, incident_id: int | None) -> dict:
    """Message metadata naming the incident, for posts it has one of (the card, the checklist …)."""
    return {"event_type": event_type, "event_payload": {"incident_id": incident_id}}


async def post_once(channel: str, message: blocks.Message, mark: dict, deps: Deps, *,
                    look_since: datetime | None = None, thread_ts: str | None = None) -> str:
    """Post ``message`` carrying metadata ``mark``; returns its ts.

    ``look_since``: this may be a retry, and a worker that died may have made the post without
    recording it: look for the post carrying ``mark`` since then first, and return that one."""
    if look_since is not None:
        found = await deps.slack.find_post(channel, mark, oldest=look_since.timestamp() - 5, thread_ts=thread_ts)
        if found is not None:
            return found
    return await deps.slack.post(channel, message.as_args(), metadata=mark, thread_ts=thread_ts)
