"""Declaring an incident: store it and owe its Slack set-up in one transaction, then build it.

The set-up is owed work like any other (see ``irbot.work.engine``): it creates the channel, then
invites the declarer and posts the card at once, then pins the card, sets the topic, announces
and posts the checklist at once, then opens the incident. Each wave's results (the channel's id,
the card's ts) are recorded before the next wave, so a failure or a crash leaves an incident that
the engine finishes later without doing any step twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError

from irbot.deps import Deps
from irbot.domain.declare import DeclareForm, normalise_users, parse_local_time
from irbot.domain.incident import incident_ref
from irbot.domain.naming import channel_name, with_suffix
from irbot.domain.status import Status
from irbot.domain.types import is_private
from irbot.domain.clocks import match_regulation
from irbot.services import converting, home, origin, surfaces
from irbot.services.clocks import start_clock
from irbot.services.playbooks import post_checklist
from irbot.services.reminders import ReminderPlan
from irbot.services.updates import open_for_business
from irbot.views.messages import declare as messages
from irbot.outbound.slack import SlackCallError
from irbot.store import repo
from irbot.store.models import Incident
from irbot.work.engine import SETUP, Engine, Facts, Job, Step
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)
MAX_NAME_ATTEMPTS = 20
RECONCILE_RESOLVED_WITHIN = timedelta(days=7)

# People first: the declarer is in the channel and the card is there after two round trips. The
# set-up records its facts (channel, card, announcement, checklist) once the channel exists and at
# the end; a retry in between finds its marked posts in Slack.
SETUP_STEPS: tuple[Step, ...] = (
    {"do": "create_channel", "wave": 0, "checkpoint": True},  # a channel id is never to be lost
    {"do": "invite_declarer", "wave": 1}, {"do": "post_card", "wave": 1},
    {"do": "pin_card", "wave": 2}, {"do": "set_topic", "wave": 2}, {"do": "announce", "wave": 2},
    {"do": "checklist", "wave": 2},
    {"do": "opened", "wave": 3},
)


class Declared(NamedTuple):
    incident: Incident
    created: bool  # False: the same form (or alert group) had declared it already


async def record_declaration(form: DeclareForm, *, declarer_id: str | None, origin_channel_id: str | None,
                             source_key: str | None, deps: Deps, source: dict | None = None,
                             convert: dict | None = None) -> Declared:
    """Store the incident (state "opening"), the clocks its form chose, and owe its set-up, in one
    unit of work whose delivery starts once it has committed (the card shows the clocks from the
    start); the same form submitted twice gives the same incident."""
    try:
        async with UnitOfWork(deps) as unit:
            declared = await declare_in(unit, form, declarer_id=declarer_id, origin_channel_id=origin_channel_id,
                                        source_key=source_key, source=source, convert=convert)
            if declared.created and form.regimes:
                await _start_clocks(unit, declared.incident, form)
    except IntegrityError:
        if source_key and (existing := await _by_source(source_key, deps)):
            return Declared(existing, False)  # a concurrent submission of the same form won
        raise
    return declared


async def _start_clocks(unit: UnitOfWork, incident: Incident, form: DeclareForm) -> None:
    plan = ReminderPlan(unit.deps)
    unit.after_commit(plan.apply)
    for regime in form.regimes:
        regulation = match_regulation(regime, unit.deps.settings.regulations)
        if regulation is not None:
            await start_clock(incident, regulation, aware_at=incident.declared_at, actor=incident.declarer_id,
                              deps=unit.deps, within=(unit, plan))


async def declare_in(unit: UnitOfWork, form: DeclareForm, *, declarer_id: str | None,
                     origin_channel_id: str | None, source_key: str | None, source: dict | None = None,
                     convert: dict | None = None) -> Declared:
    """The declaration's part of ``unit``: the incident, its first timeline event and its owed set-up.

    ``source``: the message it was declared from (``services.origin.read_source``); it starts the
    timeline at its own time. ``convert``: {"channel", "name", "private"}: the incident uses that
    existing channel instead of a new one."""
    deps, session = unit.deps, unit.session
    if source_key and (existing := await repo.incident_by_source(source_key, session=session)):
        return Declared(existing, False)
    incident = Incident(
        number=0, title=form.title.strip(), severity=form.severity, type=form.type,
        status=Status.INVESTIGATING.value, drill=form.drill,
        private=is_private(form.type, form.private) or bool(convert and convert.get("private")),
        summary=form.summary.strip(), services=form.services.strip(),
        affected_users=normalise_users(form.affected_users), declarer_id=declarer_id,
        origin_channel_id=source["channel"] if source else origin_channel_id, source_key=source_key,
        declared_at=deps.clock(),
        impact_started_at=parse_local_time(form.impact_started, deps.settings.timezone)
        if form.impact_started.strip() else None,
        **_origin_fields(source, convert),
    )
    await repo.add_incident(incident, [r.key for r in deps.settings.roles], session=session)
    await repo.add_event(incident.id, "declared", actor_id=declarer_id, session=session,
                         text=incident.title, dedupe_key="declared", at=incident.declared_at,
                         data={"severity": incident.severity, "type": incident.type, "private": incident.private})
    if source:
        await origin.record_source(incident.id, source, added_by=declarer_id, session=session,
                                   unreadable_text=messages.unreadable_source(deps.renderer))
    assert incident.id is not None
    await unit.owe(incident.id, SETUP, setup_steps(incident), subject=incident)
    return Declared(incident, True)


async def _by_source(source_key: str, deps: Deps) -> Incident | None:
    async with deps.db.reader() as session:
        return await repo.incident_by_source(source_key, session=session)


def _origin_fields(source: dict | None, convert: dict | None) -> dict:
    fields: dict = {}
    if source:
        fields.update(origin_permalink=source.get("permalink"), origin_ts=source["ts"],
                      origin_thread_ts=source.get("thread_ts"))
    if convert:
        fields.update(channel_id=convert["channel"], channel_name=convert.get("name"), converted=True)
    return fields


def register(engine: Engine) -> None:
    for name, handler in _SETUP_HANDLERS.items():
        engine.handle(name, handler)
    engine.on_first_refusal(SETUP, _tell_declarer_of_failure)


def setup_steps(incident: Incident) -> list[Step]:
    """The set-up of this incident: a converted one joins its existing channel instead of creating
    one, and starts its timeline with the channel's last day; one declared from a message tells
    that message's thread where the incident is."""
    steps = [dict(step) for step in SETUP_STEPS]
    extra: list[Step] = []
    if incident.converted:
        steps[0] = {"do": "join_channel", "wave": 0, "checkpoint": True}
        extra.append({"do": "capture_history", "wave": 2})
    opened = steps[-1]
    if incident.origin_ts and incident.origin_channel_id:
        # A wave of its own, after the rest: a refused pin or topic retried never repeats the DM
        # that stands in for a reply where irbot may not post (a DM cannot be looked for).
        extra.append({"do": "reply_to_origin", "wave": 3})
        opened = {**opened, "wave": 4}
    return steps[:-1] + extra + [opened]


async def _create_channel(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if incident.channel_id:
        return None
    prefix = "drill" if incident.drill else deps.settings.channel_prefix
    base = channel_name(prefix, incident.number, incident.title)
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = with_suffix(base, attempt)
        try:
            channel = await deps.slack.create_channel(name, private=incident.private)
        except SlackCallError as exc:
            if exc.code != "name_taken":
                raise
            adopted = await _our_channel_named(name, incident, deps)
            if adopted is None:
                continue
            channel = adopted
        # Its first events (joins, messages) arrive before the set-up's checkpoint records it.
        deps.channels.remember(channel["id"], incident.id, private=incident.private)
        return {"channel_id": channel["id"], "channel_name": channel["name"]}
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


async def _shown(job: Job) -> tuple[dict[str, str | None], list]:
    """Read once per run: the card, the topic and the announcement show the role holders (and the
    card the clocks); a role taken meanwhile is redrawn by its own owed work once the set-up is done."""
    if "shown" not in job.memo:
        job.memo["shown"] = asyncio.ensure_future(surfaces.holders_and_clocks(job.incident.id, job.deps))
    return await asyncio.shield(job.memo["shown"])


async def _holders(job: Job) -> dict[str, str | None]:
    return (await _shown(job))[0]


def _look_since(job: Job):  # noqa: ANN202
    """A retried set-up may have posted without living to record it: look for the post first."""
    return job.incident.declared_at if job.look_first else None


async def _post_card(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if incident.card_ts:
        return None
    holders, clocks = await _shown(job)
    message = await surfaces.card_message(incident, holders, deps, clocks=clocks)
    ts = await surfaces.post_once(incident.channel_id, message, surfaces.incident_mark(CARD_EVENT, incident.id), deps,
                                  look_since=_look_since(job))
    return {"card_ts": ts}


async def _pin_card(step: Step, job: Job) -> Facts | None:
    await job.deps.slack.pin(job.incident.channel_id, job.incident.card_ts)
    return None


async def _set_topic(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if incident.topic:
        return None
    holders = await _holders(job)
    topic = await surfaces.topic_text(incident, holders, deps)
    await deps.slack.set_topic(incident.channel_id, topic)
    return {"topic": topic}


async def _invite_declarer(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if incident.declarer_id and incident.declarer_id != deps.workspace.bot_user_id:
        await deps.slack.invite(incident.channel_id, incident.declarer_id)
    return None


async def _announce(step: Step, job: Job) -> Facts | None:
    incident, deps = job.incident, job.deps
    if incident.announce_ts or incident.private:
        return None
    channel = await deps.workspace.ensure_announce_channel()
    if channel is None:
        return None  # announcements are off; the log and /incident help say why
    message = surfaces.announcement_message(incident, await _holders(job), deps)
    ts = await surfaces.post_once(channel, message, surfaces.incident_mark(ANNOUNCEMENT_EVENT, incident.id), deps,
                                  look_since=_look_since(job))
    return {"announce_channel_id": channel, "announce_ts": ts}


async def _checklist(step: Step, job: Job) -> Facts | None:
    return await post_checklist(job.incident, job.deps, repair=job.look_first)


async def _opened(step: Step, job: Job) -> Facts | None:
    """Every Slack step is done: the incident is open, its reminders start, the world is told."""
    incident, deps = job.incident, job.deps
    incident.setup = "open"

    async def start_reminders_and_tell_webhooks(unit: UnitOfWork) -> None:
        await open_for_business(incident, unit)

    job.on_finish(start_reminders_and_tell_webhooks)  # with the set-up's own last write: one transaction
    await home.incident_changed(incident, deps)
    deps.metrics.incidents_declared.labels(severity=incident.severity, drill=str(incident.drill).lower()).inc()
    log.info("%s is open in Slack", incident_ref(incident.number))
    return {"setup": "open"}


_SETUP_HANDLERS = {"create_channel": _create_channel, "invite_declarer": _invite_declarer, "post_card": _post_card,
                   "pin_card": _pin_card, "set_topic": _set_topic, "announce": _announce, "checklist": _checklist,
                   "opened": _opened, "join_channel": converting.join_channel,
                   "capture_history": converting.capture_history, "reply_to_origin": origin.reply_to_origin}


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
    """At start-up: owe the set-up of incidents left "opening" with none owed (declared by an irbot
    from before the engine; the sweep, which starts with irbot, delivers them with everything else
    owed), then redraw the live incidents' card, topic and announcement from the database. Returns
    how many set-ups were owed anew."""
    async with UnitOfWork(deps) as unit:
        orphans = await repo.incidents_in_setup_owing_nothing(session=unit.session)
        for incident in orphans:
            assert incident.id is not None
            await unit.owe(incident.id, SETUP, setup_steps(incident), held=False)
    await reconcile_surfaces(deps)
    return len(orphans)


async def _tell_declarer_of_failure(incident: Incident, problem: str, deps: Deps) -> None:
    if not incident.declarer_id:
        return
    message = messages.setup_failed(deps.renderer, incident=surfaces.facts_of(incident), problem=problem)
    try:
        await deps.slack.post(incident.declarer_id, message.as_args())
    except SlackCallError as exc:
        log.error("could not tell %s about the failed set-up: %s", incident.declarer_id, exc.code)
