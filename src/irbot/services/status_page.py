"""The public status page: publishing from Slack, and reading what the page shows.

Publishing is a change like any other: one unit of work records the publication, its public
entry, a timeline (evidence) record and the channel's notice, and raises the page's version, so
every replica's cached page is stale from the commit on. Only words written for the public are
stored for the page: never the incident's own title, updates, people or channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.domain.roles import COMMANDER
from irbot.domain.status import Status
from irbot.domain.status_page import (
    RESOLVED_SHOWN_FOR, Impact, Published, StatusPageSettings, StatusRefused, banner, component_statuses,
    may_publish, parse_impact, publish_refusal,
)
from irbot.domain.permissions import Actors
from irbot.services import outbox, surfaces
from irbot.store import repo
from irbot.store.models import Incident, StatusEntry, StatusPublication
from irbot.views.messages import status_page as messages
from irbot.work.unit import UnitOfWork

COMMS_LEAD = "comms_lead"
PUBLIC_TEXT_MAX = 2000
PUBLIC_TITLE_MAX = 150
ENTRIES_ON_PAGE = 3  # each incident's newest public updates on /status; its own page has them all


@dataclass(frozen=True)
class PublishForm:
    title: str
    impact: Impact
    components: tuple[str, ...]
    message: str
    source_key: str | None = None  # the form's view id: submitted twice, published once


def page_settings(deps: Deps) -> StatusPageSettings:
    settings = deps.settings.status_page
    if settings is None:
        raise StatusRefused("refuse_off")
    return settings


async def check_publisher(incident: Incident, actor: str, deps: Deps) -> None:
    """Raises StatusRefused saying why this person may not publish this incident."""
    page_settings(deps)
    why = publish_refusal(private=incident.private, drill=incident.drill)
    if why is not None:
        raise StatusRefused(why, ref=incident_ref(incident.number))
    holders = await surfaces.holders_of(incident.id, deps)
    actors = Actors(actor=actor, declarer=incident.declarer_id, commander=holders.get(COMMANDER),
                    admins=frozenset(deps.settings.admins))
    if not may_publish(actors, comms_lead=holders.get(COMMS_LEAD)):
        raise StatusRefused("refuse_who", commander=holders.get(COMMANDER), comms_lead=holders.get(COMMS_LEAD),
                            declarer=incident.declarer_id)


async def publication(incident_id: int, deps: Deps) -> StatusPublication | None:
    """The incident's publication while it is on the page (None when never published or taken off)."""
    if deps.settings.status_page is None:
        return None
    async with deps.db.reader() as session:
        found = await repo.publication_of(incident_id, session=session)
    return found if found is not None and found.unpublished_at is None else None


async def offers_public_update(incident: Incident, actor: str, deps: Deps) -> bool:
    """Whether the update form offers this person "Also post on the status page": the incident is on
    the page and they may publish (anyone may post an update; not everyone may speak in public)."""
    if await publication(incident.id, deps) is None:
        return False
    try:
        await check_publisher(incident, actor, deps)
    except StatusRefused:
        return False
    return True


def public_link(deps: Deps, number: int) -> str:
    base = deps.settings.status_page.public_url if deps.settings.status_page else ""
    return f"{base}/status/incidents/{incident_ref(number)}"


async def publish(incident: Incident, form: PublishForm, *, actor: str, deps: Deps) -> bool:
    """Put the incident on the page (or publish it again with new words). False: this form was
    already published."""
    await check_publisher(incident, actor, deps)
    settings = page_settings(deps)
    components = tuple(c for c in form.components if settings.component(c) is not None)
    now = deps.clock()
    async with UnitOfWork(deps) as unit:
        session = unit.session
        entry = await repo.add_status_entry(StatusEntry(
            incident_id=incident.id, kind="published", text=form.message, impact=form.impact.value, at=now,
            dedupe_key=form.source_key), session=session)
        if entry is None:
            return False
        await repo.save_publication(incident.id, title=form.title, impact=form.impact.value,
                                    components=list(components), at=now, session=session)
        if not Status(incident.status).is_open:  # told after the fact: it goes on the page as resolved
            await repo.mark_publication(incident.id, resolved_at=incident.resolved_at or now, session=session)
        await _record(unit, incident, "published", actor, now, text=form.message,
                      data={"title": form.title, "impact": form.impact.value, "components": list(components)})
        notice = messages.published(deps.renderer, ref=incident_ref(incident.number), actor=actor,
                                    public_title=form.title, impact=form.impact.label,
                                    link=public_link(deps, incident.number))
        await unit.owe(incident.id, "status_published", [outbox.post(surfaces.message_for(incident, notice, deps))])
    return True


async def unpublish(incident: Incident, *, actor: str, deps: Deps) -> None:
    await check_publisher(incident, actor, deps)
    now = deps.clock()
    async with UnitOfWork(deps) as unit:
        if not await repo.mark_publication(incident.id, unpublished_at=now, session=unit.session):
            raise StatusRefused("not_published", ref=incident_ref(incident.number))
        await _record(unit, incident, "unpublished", actor, now)
        notice = messages.unpublished(deps.renderer, ref=incident_ref(incident.number), actor=actor)
        await unit.owe(incident.id, "status_unpublished", [outbox.post(surfaces.message_for(incident, notice, deps))])


async def post_public_update(unit: UnitOfWork, incident: Incident, text: str, *, actor: str,
                             source_key: str | None) -> bool:
    """In an update's own unit of work: its public text as a page entry (False: not on the page)."""
    found = await repo.publication_of(incident.id, session=unit.session)
    if found is None or found.unpublished_at is not None or unit.deps.settings.status_page is None:
        return False
    now = unit.deps.clock()
    entry = await repo.add_status_entry(StatusEntry(
        incident_id=incident.id, kind="update", text=text, impact=found.impact, at=now,
        dedupe_key=f"update:{source_key}" if source_key else None), session=unit.session)
    if entry is None:
        return False
    await _record(unit, incident, "update", actor, now, text=text)
    return True


async def post_resolved(unit: UnitOfWork, incident: Incident, text: str | None, *, actor: str) -> bool:
    """In the resolution's unit of work: the public "Resolved" entry of a published incident."""
    found = await repo.publication_of(incident.id, session=unit.session)
    if found is None or found.unpublished_at is not None or unit.deps.settings.status_page is None:
        return False
    now = unit.deps.clock()
    public = (text or "").strip() or messages.default_resolved(unit.deps.renderer)
    await repo.mark_publication(incident.id, resolved_at=now, session=unit.session)
    await repo.add_status_entry(StatusEntry(incident_id=incident.id, kind="resolved", text=public,
                                            impact=found.impact, at=now), session=unit.session)
    await _record(unit, incident, "resolved", actor, now, text=public)
    return True


async def _record(unit: UnitOfWork, incident: Incident, what: str, actor: str, at: datetime, *, text: str = "",
                  data: dict | None = None) -> None:
    """The timeline (evidence) record of a publication; the page's version rises with it."""
    await repo.add_event(incident.id, "status_page", actor_id=actor, at=at, text=text, session=unit.session,
                         data={"what": what, **(data or {})})
    await repo.bump_status_version(session=unit.session)
    unit.after_commit(unit.deps.status_cache.invalidate)


# --- what the page shows ------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicEntry:
    id: int
    kind: str  # published | update | resolved
    text: str
    at: datetime
    impact: Impact


@dataclass(frozen=True)
class PublicIncident:
    ref: str
    title: str
    impact: Impact
    components: tuple[str, ...]  # names, as configured
    component_keys: tuple[str, ...]
    published_at: datetime
    resolved_at: datetime | None
    entries: list[PublicEntry] = field(default_factory=list)  # newest first (on the page: the newest few)
    entry_count: int = 0  # all its public entries

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def updated_at(self) -> datetime:
        return self.entries[0].at if self.entries else self.published_at


@dataclass(frozen=True)
class PageState:
    settings: StatusPageSettings
    now: datetime
    banner: Impact | None
    components: list[tuple[str, Impact | None]]  # name, worst current impact
    open: list[PublicIncident]
    resolved: list[PublicIncident]
    valid_until: datetime | None  # when the page changes by itself (a resolved incident ages off)

    @property
    def updated_at(self) -> datetime | None:
        return max((i.updated_at for i in self.open + self.resolved), default=None)


async def page_state(deps: Deps) -> PageState:
    """Everything the page shows, read in one go (public words only)."""
    settings = page_settings(deps)
    now = deps.clock()
    async with deps.db.reader() as session:
        rows = await repo.published_rows(since=now - RESOLVED_SHOWN_FOR, session=session)
        ids = [p.incident_id for p, _ in rows]
        entries = await repo.status_entries(ids, per_incident=ENTRIES_ON_PAGE, session=session)
        counts = await repo.status_entry_counts(ids, session=session)
    incidents = _incidents(settings, rows, entries, counts)
    published = [Published(ref=i.ref, impact=i.impact, components=i.component_keys, open=i.open)
                 for i in incidents]
    statuses = [(c.name, impact) for c, impact in component_statuses(settings.components, published)]
    ages = [i.resolved_at + RESOLVED_SHOWN_FOR for i in incidents if i.resolved_at is not None]
    return PageState(settings=settings, now=now, banner=banner(published), components=statuses,
                     open=[i for i in incidents if i.open],
                     resolved=sorted((i for i in incidents if not i.open), key=lambda i: i.resolved_at, reverse=True),
                     valid_until=min(ages, default=None))


async def incident_state(deps: Deps, number: int) -> PublicIncident | None:
    """One published incident with all its public entries; None when it is not on the page."""
    settings = page_settings(deps)
    async with deps.db.reader() as session:
        row = await repo.published_by_number(number, session=session)
        if row is None:
            return None
        entries = await repo.status_entries([row[0].incident_id], session=session)
    return _incidents(settings, [row], entries, {row[0].incident_id: len(entries)})[0]


async def feed_entries(deps: Deps, limit: int = 100) -> tuple[PageState, list[tuple[PublicIncident, PublicEntry]]]:
    """The newest ``limit`` public entries of the incidents on the page, for the feed."""
    state = await page_state(deps)
    shown = {i.ref: i for i in state.open + state.resolved}
    async with deps.db.reader() as session:
        rows = await repo.published_rows(since=state.now - RESOLVED_SHOWN_FOR, session=session)
        refs = {p.incident_id: incident_ref(number) for p, number in rows}
        entries = await repo.status_entries(list(refs), limit=limit, session=session)
    return state, [(shown[refs[e.incident_id]], _entry(e)) for e in entries if refs.get(e.incident_id) in shown]


def _entry(row: Any) -> PublicEntry:
    return PublicEntry(id=row.id or 0, kind=row.kind, text=row.text, at=row.at,
                       impact=parse_impact(row.impact) or Impact.DEGRADED)


def _incidents(settings: StatusPageSettings, rows: Sequence[tuple[StatusPublication, int]],
               entries: Sequence[Any], counts: dict[int, int]) -> list[PublicIncident]:
    by_incident: dict[int, list[PublicEntry]] = {}
    for e in entries:
        by_incident.setdefault(e.incident_id, []).append(_entry(e))
    result = []
    for publication_row, number in rows:
        known = [c for key in publication_row.components if (c := settings.component(key)) is not None]
        result.append(PublicIncident(
            ref=incident_ref(number), title=publication_row.title,
            impact=parse_impact(publication_row.impact) or Impact.DEGRADED,
            components=tuple(c.name for c in known), component_keys=tuple(c.key for c in known),
            published_at=publication_row.published_at, resolved_at=publication_row.resolved_at,
            entries=by_incident.get(publication_row.incident_id, []),
            entry_count=counts.get(publication_row.incident_id, 0)))
    return result
