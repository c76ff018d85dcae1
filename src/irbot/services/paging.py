"""Paging through PagerDuty's Events API v2, and PagerDuty's acknowledgements back into Slack.

Every event is owed work (``page:trigger`` / ``page:resolve`` items), written in the unit of work
of the change that causes it: the declare's set-up finishing (a SEV in ``page_on``), a raise into
``page_on``, a reopen, ``/incident page``, the response target passing with no commander
(escalation), the resolution (a resolve for every page still open). The engine sends it after the
commit, retries 429/5xx with back-off, gives up after a bounded number of attempts and tells the
channel; a 400 is not retried and the channel is told PagerDuty's reason.

A page is one ``page`` row per dedup key (``irbot-INC-12``, ``irbot-INC-12-<service>``,
``irbot-INC-12-escalation``): a key that is open (triggered or acknowledged) is never triggered
again, a resolved one is triggered again on a reopen. The routing keys are looked up when sending,
never stored with the owed work nor logged. A private incident's title appears in no event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from irbot.config import PagerDuty
from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.domain.roles import COMMANDER
from irbot.domain.status import Status
from irbot.outbound import pagerduty as door
from irbot.outbound.errors import Refused
from irbot.services import outbox, surfaces
from irbot.store import repo
from irbot.store.models import Incident, Page
from irbot.views.messages import paging as messages
from irbot.work.engine import Engine, Facts, Job, RetryPolicy, Step
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)

PAGE = "page"  # the engine's kind for PagerDuty events: ``page:trigger``, ``page:resolve``
# Someone is waiting to be woken, and a 429 clears quickly: 1 s doubling, then minutes, then given up.
PAGE_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
DEFAULT = "default"
ESCALATION = "escalation"
TRIGGER = f"{PAGE}:trigger"
RESOLVE = f"{PAGE}:resolve"
SOURCE = "irbot"
# PagerDuty's four severities, SEV-1 … SEV-4; any less severe level configured is "info".
PD_SEVERITIES = ("critical", "error", "warning", "info")


def dedup_key(number: int, target: str) -> str:
    base = f"irbot-{incident_ref(number)}"
    return base if target == DEFAULT else f"{base}-{target}"


def target_name(pagerduty: PagerDuty, target: str) -> str:
    if target == DEFAULT:
        return "the default on-call service"
    if target == ESCALATION:
        return "the escalation service"
    service = pagerduty.service(target)
    return service.name if service else target


def pages_on(incident: Incident, deps: Deps) -> bool:
    """Paging is set up, the incident is no drill and its severity is one that pages."""
    pagerduty = deps.settings.pagerduty
    return pagerduty is not None and not incident.drill and incident.severity in pagerduty.page_on


# ---- owing events, inside the change's unit of work ----------------------------------------------------

async def owe_trigger(incident: Incident, target: str, unit: UnitOfWork, *, actor: str | None = None,
                      message: str | None = None) -> bool:
    """Owe a trigger for ``target``; False (nothing owed) when paging is off, the incident is a
    drill, or the key is open already."""
    deps = unit.deps
    pagerduty = deps.settings.pagerduty
    if pagerduty is None or incident.drill:
        return False
    assert incident.id is not None
    key, name, now = dedup_key(incident.number, target), target_name(pagerduty, target), deps.clock()
    page = Page(dedup_key=key, incident_id=incident.id, target=target, name=name, triggered_at=now,
                triggered_by=actor)
    if not await repo.open_page(page, session=unit.session):
        return False
    event = await _trigger_event(incident, key, unit, message=message)
    await unit.owe(incident.id, TRIGGER, [{"do": "pagerduty", "target": target, "event": event, "actor": actor,
                                          "message": message}])
    return True


async def owe_declared(incident: Incident, unit: UnitOfWork) -> None:
    """The incident is open in Slack: page the default service if its severity pages."""
    if pages_on(incident, unit.deps):
        await owe_trigger(incident, DEFAULT, unit)


async def owe_severity_raised(incident: Incident, unit: UnitOfWork) -> None:
    """A raise into ``page_on`` pages the default service, unless its page is open already."""
    if pages_on(incident, unit.deps) and Status(incident.status).is_open:
        await owe_trigger(incident, DEFAULT, unit)


async def owe_reopened(incident: Incident, unit: UnitOfWork) -> None:
    if pages_on(incident, unit.deps):
        await owe_trigger(incident, DEFAULT, unit)


async def owe_escalation(incident: Incident, unit: UnitOfWork) -> bool:
    """``respond_within`` passed with no commander: page the escalation service once."""
    pagerduty = unit.deps.settings.pagerduty
    if pagerduty is None or not pagerduty.escalation_routing_key or not pages_on(incident, unit.deps):
        return False
    return await owe_trigger(incident, ESCALATION, unit)


async def owe_resolved(incident: Incident, unit: UnitOfWork) -> int:
    """The incident is resolved: a resolve for every page it has open. Returns how many."""
    if unit.deps.settings.pagerduty is None:
        return 0
    assert incident.id is not None
    pages = await repo.close_pages(incident.id, at=unit.deps.clock(), session=unit.session)
    for page in pages:
        await unit.owe(incident.id, RESOLVE, [{"do": "pagerduty", "target": page.target,
                                               "event": {"event_action": "resolve", "dedup_key": page.dedup_key}}])
    return len(pages)


async def _trigger_event(incident: Incident, key: str, unit: UnitOfWork, *, message: str | None) -> dict[str, Any]:
    """The event without its routing key (added when sending)."""
    deps = unit.deps
    severity = deps.settings.severity(incident.severity)
    ref = incident_ref(incident.number)
    summary = f"[{severity.key}] {ref} (private incident)" if incident.private else \
        f"[{severity.key}] {ref} · {incident.title}"
    roles = await repo.roles_of(incident.id, session=unit.session)
    commander = roles[COMMANDER].user_id if COMMANDER in roles else None
    commander_name = None
    if commander:
        commander_name = (await repo.people_named([commander], session=unit.session)).get(commander, commander)
    details: dict[str, Any] = {"incident": ref, "severity": severity.key, "status": incident.status,
                               "commander": commander_name or "none yet"}
    if message:
        details["message"] = message
    event: dict[str, Any] = {
        "event_action": "trigger", "dedup_key": key, "client": "irbot",
        "payload": {"summary": summary[:door.SUMMARY_LIMIT], "source": SOURCE,
                    "severity": PD_SEVERITIES[min(severity.rank, len(PD_SEVERITIES)) - 1],
                    "timestamp": deps.clock().isoformat(), "custom_details": details},
    }
    if incident.channel_id:
        url = f"https://slack.com/app_redirect?channel={incident.channel_id}"
        text = f"Slack channel of {ref}" if incident.private or not incident.channel_name else \
            f"#{incident.channel_name} in Slack"
        event["links"] = [{"href": url, "text": text}]
        event["client_url"] = url
    return event


# ---- /incident page ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageAnswer:
    """What came of ``/incident page``: ``outcome`` names it (``page_owed``, ``page_open``, or why nothing
    was paged) and ``context`` holds its facts, for ``views.answers.page_answer``; ``owed``: a trigger is owed."""

    outcome: str
    context: dict[str, Any]
    owed: bool = False


async def page_service(incident: Incident, service_key: str, message: str, *, actor: str, deps: Deps) -> PageAnswer:
    pagerduty = deps.settings.pagerduty
    if pagerduty is None:
        return PageAnswer("page_off", {})
    service = pagerduty.service(service_key) if service_key else None
    if service is None:
        return PageAnswer("page_unknown", {"word": service_key, "services": pagerduty.services})
    if incident.drill:
        return PageAnswer("page_drill", {})
    if not Status(incident.status).is_open:
        return PageAnswer("page_closed", {})
    async with UnitOfWork(deps) as unit:
        owed = await owe_trigger(incident, service.key, unit, actor=actor, message=message.strip() or None)
    return PageAnswer("page_owed" if owed else "page_open", {"name": service.name}, owed)


# ---- the engine's handler --------------------------------------------------------------------------------

def register(engine: Engine) -> None:
    engine.handle("pagerduty", _send)
    retry_pages(engine, PAGE_DELAYS)
    engine.on_give_up(PAGE, _tell_given_up)


def retry_pages(engine: Engine, delays: tuple[float, ...]) -> None:
    """PagerDuty events never wait behind Slack work (a page must go out while Slack is slow or
    down) but keep their order among themselves: a resolve never overtakes its trigger. Not gated:
    the Events API takes a repeated event by its dedup key, and each page should wake people as soon
    as PagerDuty takes it, not after a probe."""
    engine.retry_as(PAGE, RetryPolicy(delays, len(delays) + 1, True), ordered=True, gated=False)


def routing_key(pagerduty: PagerDuty, target: str) -> str | None:
    if target == DEFAULT:
        return pagerduty.routing_key
    if target == ESCALATION:
        return pagerduty.escalation_routing_key
    service = pagerduty.service(target)
    return service.routing_key if service else None


async def _send(step: Step, job: Job) -> Facts | None:
    deps, incident = job.deps, job.incident
    event, target = step["event"], step["target"]
    action = event["event_action"]
    pagerduty = deps.settings.pagerduty
    key = routing_key(pagerduty, target) if pagerduty is not None else None
    if pagerduty is None or not key:
        log.warning("%s: %s is no longer set up for paging; dropped a %s event", incident_ref(incident.number),
                    target, action)
        return None
    try:
        await door.send_event(pagerduty.events_url, {"routing_key": key, **event})
    except door.Rejected as exc:
        deps.metrics.pagerduty_events.labels(action=action, outcome="rejected").inc()
        log.error("%s: PagerDuty rejected a %s event: %s", incident_ref(incident.number), action, exc.reason)
        reason = exc.reason

        async def tell_rejected(unit: UnitOfWork) -> None:
            if action == "trigger":
                await repo.page_refused(event["dedup_key"], session=unit.session)
            text = messages.rejected(deps.renderer, incident=surfaces.facts_of(incident), action=action,
                                     name=target_name(pagerduty, target), reason=reason)
            await outbox.owe_message(unit, incident, "page_rejected", text, redraw=action == "trigger")

        job.on_finish(tell_rejected)
        return None
    except Refused as exc:
        deps.metrics.pagerduty_events.labels(action=action, outcome="retried").inc()
        log.warning("%s: PagerDuty did not take a %s event: %s", incident_ref(incident.number), action, exc.code)
        raise
    deps.metrics.pagerduty_events.labels(action=action, outcome="accepted").inc()
    if action == "trigger":
        job.on_finish(lambda unit: _tell_paged(unit, incident, step, pagerduty))
    return None


async def _tell_paged(unit: UnitOfWork, incident: Incident, step: Step, pagerduty: PagerDuty) -> None:
    """With the item's last write: count the trigger, record it, tell the channel, redraw the card."""
    key, target = step["event"]["dedup_key"], step["target"]
    await repo.page_sent(key, session=unit.session)
    name = target_name(pagerduty, target)
    now = unit.deps.clock()
    await repo.add_event(incident.id, "paged", actor_id=step.get("actor"), at=now, session=unit.session,
                         text=step.get("message") or "", data={"dedup_key": key, "target": target, "name": name, "by": step.get("actor")})
    text = messages.paged(unit.deps.renderer, incident=surfaces.facts_of(incident), name=name, actor=step.get("actor"),
                          message=step.get("message"), escalation=target == ESCALATION)
    await outbox.owe_message(unit, incident, "paged", text, redraw=True)


async def _tell_given_up(incident: Incident, code: str, deps: Deps) -> None:
    if not incident.channel_id:
        return
    text = messages.gave_up(deps.renderer, incident=surfaces.facts_of(incident), code=code)
    async with UnitOfWork(deps) as unit:
        await outbox.owe_message(unit, incident, "page_gave_up", text)


# ---- PagerDuty's V3 webhooks ----------------------------------------------------------------------------

def signature_ok(raw: bytes, header: str, secret: str) -> bool:
    """``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]``: one match with this secret is enough."""
    expected = "v1=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(",") if part.strip())


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    action: str  # "acknowledged", "resolved", "repeat", "ignored", "malformed"


async def receive_webhook(raw: bytes, deps: Deps) -> WebhookOutcome:
    """A webhook whose signature the HTTP route has checked (before its "starting" answer)."""
    try:
        body = json.loads(raw)
        event = body["event"]
        event_id, event_type, data = str(event["id"]), str(event["event_type"]), event.get("data") or {}
    except (ValueError, KeyError, TypeError):
        return WebhookOutcome(400, "malformed")
    if event_type not in ("incident.acknowledged", "incident.resolved") or not isinstance(data, dict):
        return WebhookOutcome(200, "ignored")
    key = data.get("incident_key")
    agent = (event.get("agent") or {}).get("summary") if isinstance(event.get("agent"), dict) else None
    service = (data.get("service") or {}).get("summary") if isinstance(data.get("service"), dict) else None
    async with UnitOfWork(deps) as unit:
        page = await repo.page_of(key, session=unit.session) if isinstance(key, str) else None
        if page is None:
            return WebhookOutcome(200, "ignored")
        incident = await repo.get_incident(page.incident_id, session=unit.session)
        if incident is None:
            return WebhookOutcome(200, "ignored")
        who = str(agent or "Someone in PagerDuty")[:200]
        what = str(service or page.name)[:200]
        at = deps.clock()  # when irbot learned of it: the timeline's own clock
        kind = "page_acknowledged" if event_type == "incident.acknowledged" else "page_resolved"
        recorded = await repo.add_event(incident.id, kind, at=at, session=unit.session, text=who,
                                        dedupe_key=f"pagerduty:{event_id}",
                                        data={"dedup_key": page.dedup_key, "service": what})
        if recorded is None:
            return WebhookOutcome(200, "repeat")
        if kind == "page_acknowledged":
            await repo.acknowledge_page(page.dedup_key, by=who, at=at, session=unit.session)
        say = messages.acknowledged if kind == "page_acknowledged" else messages.resolved
        text = say(deps.renderer, incident=surfaces.facts_of(incident), who=who, service=what)
        await outbox.owe_message(unit, incident, kind, text, redraw=kind == "page_acknowledged")
    return WebhookOutcome(200, "acknowledged" if kind == "page_acknowledged" else "resolved")

