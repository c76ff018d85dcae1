"""Declaring an incident: store it first, then build it in Slack step by step.

Each Slack step records its result before the next one starts, so a failure or a crash leaves
an incident that :func:`open_incident` can finish later without doing any step twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from irbot.deps import Deps
from irbot.domain.declare import DeclareForm, normalise_users, parse_local_time
from irbot.domain.incident import incident_ref
from irbot.domain.naming import channel_name, with_suffix
from irbot.domain.status import Status
from irbot.domain.types import is_private
from irbot.domain.clocks import match_regulation
from irbot.services import surfaces, webhooks
from irbot.services.clocks import start_clock
from irbot.services.playbooks import post_checklist
from irbot.services.updates import plan_first_reminders
from irbot.slack import blocks
from irbot.slack.gateway import SlackCallError
from irbot.store import repo
from irbot.store.models import Incident
from irbot.tasks import renew_every

log = logging.getLogger(__name__)
MAX_NAME_ATTEMPTS = 20
# Held while a process builds the incident and renewed as it goes, so that a builder that was
# killed frees it within SETUP_LEASE and the start-up repair (or another replica) takes over.
SETUP_LEASE = timedelta(seconds=10)
LEASE_RENEW_SECONDS = 3.0
RECONCILE_RESOLVED_WITHIN = timedelta(days=7)


async def record_declaration(form: DeclareForm, *, declarer_id: str | None, origin_channel_id: str | None,
                             source_key: str | None, deps: Deps) -> tuple[Incident, bool]:
    """Store the incident (state "opening"); the same form submitted twice gives the same incident."""
    async with deps.db.session() as session:
        if source_key and (existing := await repo.incident_by_source(source_key, session=session)):
            return existing, False
        incident = Incident(
            number=0, title=form.title.strip(), severity=form.severity, type=form.type,
            status=Status.INVESTIGATING.value, private=is_private(form.type, form.private), drill=form.drill,
            summary=form.summary.strip(), services=form.services.strip(),
            affected_users=normalise_users(form.affected_users), declarer_id=declarer_id,
            origin_channel_id=origin_channel_id, source_key=source_key, declared_at=deps.clock(),
            impact_started_at=parse_local_time(form.impact_started, deps.settings.timezone)
            if form.impact_started.strip() else None,
        )
        try:
            await repo.add_incident(incident, [r.key for r in deps.settings.roles], session=session)
            await repo.add_event(incident.id, "declared", actor_id=declarer_id, session=session,
                                 text=incident.title, dedupe_key="declared", at=incident.declared_at,
                                 data={"severity": incident.severity, "type": incident.type,
                                       "private": incident.private})
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if source_key and (existing := await repo.incident_by_source(source_key, session=session)):
                return existing, False  # a concurrent submission of the same form won
            raise
    for regime in form.regimes:
        regulation = match_regulation(regime, deps.settings.regulations)
        if regulation is not None:
            await start_clock(incident, regulation, aware_at=incident.declared_at, actor=declarer_id, deps=deps)
    return incident, True


async def open_incident(incident_id: int, deps: Deps, *, repair: bool = False) -> Incident | None:
    """Run the Slack steps that have not run yet; returns the incident, or None if another owns it.

    ``repair``: an earlier attempt may have posted the card, the announcement or the checklist
    without living to record it (killed, or the answer was lost); look for them before posting again.
    """
    if not await _claim(incident_id, deps):
        return None
    post_card = functools.partial(_post_card, repair=repair)
    announce = functools.partial(_announce, repair=repair)
    checklist = functools.partial(post_checklist, repair=repair)
    steps = (_create_channel, post_card, _pin_card, _set_topic, _invite_declarer, announce, checklist)
    # A 429 wait can outlast the lease: keep it while this process builds.
    renewing = asyncio.get_running_loop().create_task(
        renew_every(LEASE_RENEW_SECONDS, lambda: _renew_lease(incident_id, deps),
                    what=f"incident {incident_id}'s set-up"), name="setup-lease")
    try:
        for step in steps:
            incident = await _load(incident_id, deps)
            await step(incident, deps)
    except SlackCallError as exc:
        await _save(incident_id, deps, setup_error=exc.code, setup_lease_until=None)
        log.error("%s: Slack step failed: %s", incident_ref(incident.number), exc)
        raise
    finally:
        renewing.cancel()
    await _save(incident_id, deps, setup="open", setup_error=None, setup_lease_until=None)
    incident = await _load(incident_id, deps)
    await plan_first_reminders(incident, deps)
    webhooks.emit("declared", incident, deps)
    deps.metrics.incidents_declared.labels(severity=incident.severity, drill=str(incident.drill).lower()).inc()
    return incident


async def _claim(incident_id: int, deps: Deps) -> bool:
    """A short lease so that two processes (or a retry beside a start-up repair) never both build."""
    now = deps.clock()
    async with deps.db.session() as session:
        claimed = await repo.claim_setup(incident_id, now=now, until=now + SETUP_LEASE, session=session)
        await session.commit()
    return claimed


async def _renew_lease(incident_id: int, deps: Deps) -> None:
    async with deps.db.session() as session:
        await repo.renew_setup(incident_id, until=deps.clock() + SETUP_LEASE, session=session)
        await session.commit()


async def _load(incident_id: int, deps: Deps) -> Incident:
    async with deps.db.reader() as session:
        incident = await repo.get_incident(incident_id, session=session)
    assert incident is not None
    return incident


async def _save(incident_id: int, deps: Deps, **values: object) -> None:
    async with deps.db.session() as session:
        await repo.update_incident(incident_id, session=session, **values)
        await session.commit()


async def _create_channel(incident: Incident, deps: Deps) -> None:
    if incident.channel_id:
        return
    prefix = "drill" if incident.drill else deps.settings.channel_prefix
    base = channel_name(prefix, incident.number, incident.title)
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = with_suffix(base, attempt)
        try:
            created = await deps.slack.call("conversations.create", name=name, is_private=incident.private)
        except SlackCallError as exc:
            if exc.code != "name_taken":
                raise
            adopted = await _our_channel_named(name, incident, deps)
            if adopted is None:
                continue
            created = {"channel": adopted}
        channel = created["channel"]
        await _save(incident.id, deps, channel_id=channel["id"], channel_name=channel["name"])
        return
    raise SlackCallError("conversations.create", "name_taken")


async def _our_channel_named(name: str, incident: Incident, deps: Deps) -> dict | None:
    """After a crash between create and save, the taken name may be our own channel: adopt it."""
    channel = await deps.workspace.channel_named(name)
    if channel is None:
        return None
    ours = channel.get("creator") == deps.workspace.bot_user_id and channel.get("is_member")
    fresh = channel.get("created", 0) >= incident.declared_at.timestamp() - 5
    return channel if ours and fresh else None


CARD_EVENT = "irbot_incident_card"
ANNOUNCEMENT_EVENT = "irbot_incident_announcement"


async def _post_card(incident: Incident, deps: Deps, *, repair: bool = False) -> None:
    if incident.card_ts:
        return
    message = await surfaces.card_message(incident, await surfaces.holders_of(incident.id, deps), deps)
    ts = await surfaces.post_once(incident.channel_id, message, surfaces.incident_mark(CARD_EVENT, incident.id), deps,
                                  look_since=incident.declared_at if repair else None)
    await _save(incident.id, deps, card_ts=ts)


async def _pin_card(incident: Incident, deps: Deps) -> None:
    if incident.card_pinned:
        return
    await deps.slack.call("pins.add", channel=incident.channel_id, timestamp=incident.card_ts)
    await _save(incident.id, deps, card_pinned=True)


async def _set_topic(incident: Incident, deps: Deps) -> None:
    if incident.topic:
        return
    holders = await surfaces.holders_of(incident.id, deps)
    topic = await surfaces.topic_text(incident, holders, deps)
    await deps.slack.call("conversations.setTopic", channel=incident.channel_id, topic=topic)
    await _save(incident.id, deps, topic=topic)


async def _invite_declarer(incident: Incident, deps: Deps) -> None:
    if incident.declarer_invited:
        return
    if incident.declarer_id and incident.declarer_id != deps.workspace.bot_user_id:
        await deps.slack.call("conversations.invite", channel=incident.channel_id, users=incident.declarer_id)
    await _save(incident.id, deps, declarer_invited=True)


async def _announce(incident: Incident, deps: Deps, *, repair: bool = False) -> None:
    if incident.announce_ts or incident.private:
        return
    channel = await deps.workspace.ensure_announce_channel()
    if channel is None:
        return  # announcements are off; the log and /incident help say why
    message = surfaces.announcement_message(incident, await surfaces.holders_of(incident.id, deps), deps)
    ts = await surfaces.post_once(channel, message, surfaces.incident_mark(ANNOUNCEMENT_EVENT, incident.id), deps,
                                  look_since=incident.declared_at if repair else None)
    await _save(incident.id, deps, announce_channel_id=channel, announce_ts=ts)


async def reconcile_surfaces(deps: Deps) -> int:
    """At start-up: redraw card, topic and announcement of live incidents from the database.

    A change is committed before its Slack side runs (after the ack); a process killed in between
    leaves Slack showing the old state. Rendering from the stored incident is idempotent.
    """
    since = deps.clock() - RECONCILE_RESOLVED_WITHIN
    async with deps.db.session() as session:
        incidents = await repo.incidents_to_reconcile(resolved_since=since, session=session)
    for incident in incidents:
        try:
            await surfaces.refresh_surfaces(incident, deps)
        except SlackCallError as exc:
            log.warning("%s: could not refresh card/topic/announcement: %s", incident_ref(incident.number), exc.code)
    return len(incidents)


async def resume_unfinished(deps: Deps) -> int:
    """At start-up: finish incidents whose Slack set-up was interrupted. Returns how many.

    An incident whose lease is held (by a process killed while building it, or by a replica
    building it now) is tried again when the lease runs out, until it is open. Then the live
    incidents' card, topic and announcement are redrawn from the database.
    """
    async with deps.db.session() as session:
        pending = await repo.incidents_in_setup(session=session)
    finished = 0
    while pending:
        leased: set[int] = set()
        for incident in pending:
            try:
                if await open_incident(incident.id, deps, repair=True) is not None:
                    finished += 1
                else:
                    leased.add(incident.id)
            except SlackCallError:
                continue  # logged and recorded; the next start or retry tries again
        if not leased:
            break
        async with deps.db.session() as session:
            pending = [i for i in await repo.incidents_in_setup(session=session) if i.id in leased]
        expiries = [i.setup_lease_until for i in pending if i.setup_lease_until is not None]
        if pending:
            wait = (min(expiries) - deps.clock()).total_seconds() if expiries else 0.0
            await asyncio.sleep(min(max(wait, 0.0) + 0.2, SETUP_LEASE.total_seconds()))
    await reconcile_surfaces(deps)
    return finished


async def open_incident_with_retries(incident_id: int, deps: Deps) -> None:
    """Build the incident in Slack; if Slack keeps failing, tell the declarer and try again later."""
    for attempt, delay in enumerate((0.0, *deps.setup_retry_delays)):
        if delay:
            await asyncio.sleep(delay)
        try:
            await open_incident(incident_id, deps, repair=attempt > 0)
            return
        except SlackCallError as exc:
            if attempt == 0:
                await _tell_declarer_of_failure(incident_id, exc.code, deps)


async def _tell_declarer_of_failure(incident_id: int, problem: str, deps: Deps) -> None:
    incident = await _load(incident_id, deps)
    if not incident.declarer_id:
        return
    text = deps.renderer.part("ephemeral.j2", "declare_failed", incident=surfaces.facts_of(incident),
                              problem=problem)
    try:
        await deps.slack.call("chat.postMessage", channel=incident.declarer_id,
                              **blocks.text_message(text).as_args())
    except SlackCallError as exc:
        log.error("could not tell %s about the failed set-up: %s", incident.declarer_id, exc.code)
