"""Alerts in: Alertmanager's webhook (version 4) declares incidents and feeds their channels.

A firing group with no open incident declares one; later notifications of the same ``groupKey``
list their new alerts in that incident's channel (each alert once, by fingerprint); a resolved
notification tells the channel the alerts cleared. Humans resolve incidents.

Nothing here can flood: a notification is read up to MAX_ALERTS_READ alerts, a group remembers at
most MAX_SEEN_PER_GROUP fingerprints (indexed rows, found with one query), and a new group beyond
``[alerts] max_open`` or ``max_new_per_minute`` is listed in one "alert storm" incident instead of
opening its own (see :mod:`irbot.domain.alerts`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import AsyncIterator
from weakref import WeakKeyDictionary

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from irbot.deps import Deps
from irbot.domain.alerts import STORM, Route, new_alerts, route_new_group
from irbot.domain.declare import DeclareForm
from irbot.domain.severities import Severity
from irbot.domain.status import Status
from irbot.domain.text import clean_json
from irbot.domain.types import incident_type, is_private
from irbot.services import outbox, surfaces
from irbot.services.declare import Declared, declare_in
from irbot.store import repo
from irbot.store.db import Database
from irbot.store.models import AlertGroup, Incident
from irbot.views.messages import alerts as messages
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)

MAX_ALERTS_READ = 500  # of one notification (Alertmanager's own max_alerts idea); the rest are only counted
MAX_SEEN_PER_GROUP = 1000  # fingerprints a group remembers; past it, its new alerts are no longer listed
MAX_LISTED = 20  # alerts named in one channel message; "…and N more" counts the others
MAX_KEY_CHARS = 200  # longer group keys and fingerprints are stored as their digest (index entries stay small)
SOURCE = "alertmanager:"  # source_key prefix of incidents declared from alerts
STORM_SOURCE = "alertmanager-storm:"  # … and of the storm incidents
RATE_WINDOW = timedelta(minutes=1)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class Alert(_Loose):
    status: str = "firing"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    generatorURL: str = ""  # noqa: N815 - Alertmanager's field name
    fingerprint: str = ""

    def key(self) -> str:
        """Alertmanager's fingerprint, or one of our own from the labels."""
        if self.fingerprint:
            return _bounded(self.fingerprint)
        return hashlib.sha256(json.dumps(self.labels, sort_keys=True).encode()).hexdigest()[:16]


class Notification(_Loose):
    version: str
    groupKey: str  # noqa: N815
    status: str
    alerts: list[Alert]
    commonLabels: dict[str, str] = {}  # noqa: N815
    commonAnnotations: dict[str, str] = {}  # noqa: N815
    truncatedAlerts: int = Field(default=0, ge=0)  # noqa: N815 - alerts Alertmanager left out (its max_alerts)
    _unread: int = PrivateAttr(default=0)  # firing alerts after the first MAX_ALERTS_READ: counted, not read

    def firing_count(self) -> int:
        """Every firing alert of the group: read, counted, or left out by Alertmanager."""
        return sum(1 for a in self.alerts if a.status == "firing") + self._unread + self.truncatedAlerts

    def group(self) -> str:
        return _bounded(self.groupKey)


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class MalformedNotification(ValueError):
    pass


def authorized(header: str, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time. The header is whatever the
    caller sent (aiohttp keeps undecodable bytes as lone surrogates): anything else is a 401 with
    one log line, never an error."""
    given = header.encode("utf-8", "surrogateescape")
    if hmac.compare_digest(given, f"Bearer {token}".encode()):
        return True
    log.warning("refused a request to /alerts/alertmanager: %s", "wrong bearer token" if header
                else "no Authorization header")
    return False


def parse_notification(body: bytes) -> Notification:
    """Only the first MAX_ALERTS_READ alerts become models (each costs tens of microseconds, on the
    event loop); the firing ones after them are only counted."""
    try:
        data = json.loads(body)  # stdlib: it reads a lone surrogate escape, which clean_json then replaces
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested past the parser's depth
        raise MalformedNotification(f"body: invalid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise MalformedNotification("body: must be a JSON object")
    alerts, unread = data.get("alerts"), 0
    if isinstance(alerts, list) and len(alerts) > MAX_ALERTS_READ:
        unread = sum(1 for a in alerts[MAX_ALERTS_READ:] if not isinstance(a, dict) or a.get("status") != "resolved")
        data["alerts"] = alerts[:MAX_ALERTS_READ]
    try:
        data = clean_json(data)  # alert text reaches the database and Slack: NUL and lone surrogates made storable
    except RecursionError:
        raise MalformedNotification("body: nested too deep") from None
    try:
        notification = Notification.model_validate(data)
        notification._unread = unread
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise MalformedNotification(f"{where or 'body'}: {first.get('msg', 'invalid')}") from None
    if notification.version != "4":
        raise MalformedNotification(f"version {notification.version!r} is not supported (Alertmanager sends 4)")
    if notification.status not in ("firing", "resolved") or not notification.groupKey:
        raise MalformedNotification("status must be firing or resolved, with a groupKey")
    return notification


@dataclass(frozen=True)
class Outcome:
    action: str  # declared | storm (listed in the alert storm incident) | updated | resolved | ignored
    incident: str | None = None


def severity_for(notification: Notification, deps: Deps) -> Severity:
    """The most severe mapped ``severity`` label in the group; unmapped labels count as the lowest."""
    mapping = dict(deps.settings.alert_severity_map)
    keys = [mapping.get((a.labels.get("severity") or "").lower()) for a in notification.alerts]
    keys.append(mapping.get((notification.commonLabels.get("severity") or "").lower()))
    found = [deps.settings.severity(k) for k in keys if k]
    return min(found, key=lambda s: s.rank) if found else deps.settings.severities[-1]


def _form(notification: Notification, deps: Deps) -> DeclareForm:
    first = notification.alerts[0] if notification.alerts else Alert()
    labels = {**first.labels, **notification.commonLabels}
    title = (notification.commonAnnotations.get("summary") or first.annotations.get("summary")
             or labels.get("alertname") or "Alert from Alertmanager")
    services = sorted({a.labels["service"] for a in notification.alerts if a.labels.get("service")})
    kind = (labels.get("type") or "").lower()
    summary = notification.commonAnnotations.get("description") or first.annotations.get("description") or ""
    return DeclareForm(title=" ".join(title.split())[:150], severity=severity_for(notification, deps).key,
                       type=kind if incident_type(kind) else "outage", summary=summary[:2500],
                       services=", ".join(services)[:300])


def _firing_read(notification: Notification) -> dict[str, Alert]:
    """The firing alerts read (the first MAX_ALERTS_READ), by fingerprint (the first of each)."""
    read: dict[str, Alert] = {}
    for alert in notification.alerts:
        if alert.status == "firing":
            read.setdefault(alert.key(), alert)
    return read


async def receive(notification: Notification, deps: Deps) -> Outcome:
    """Store first (inside one transaction per group), then do the Slack work after the answer."""
    group, incident = await _group_and_incident(notification, deps)
    if notification.status == "resolved":
        return await _cleared(notification, group, incident, deps)
    if incident is not None and Status(incident.status).is_open:
        return await _more_alerts(notification, incident, deps)
    async with _one_at_a_time(deps):  # the cap and the rate hold only if groups are decided in turn
        _, incident = await _group_and_incident(notification, deps)
        if incident is not None and Status(incident.status).is_open:  # declared while this one waited
            return await _more_alerts(notification, incident, deps)
        return await _declare(notification, deps)


async def _group_and_incident(notification: Notification,
                              deps: Deps) -> tuple[AlertGroup | None, Incident | None]:
    async with deps.db.reader() as session:
        group = await repo.alert_group(notification.group(), session=session)
        incident = await repo.get_incident(group.incident_id, session=session) if group else None
    return group, incident


_turns: WeakKeyDictionary[Database, asyncio.Lock] = WeakKeyDictionary()


@asynccontextmanager
async def _one_at_a_time(deps: Deps) -> AsyncIterator[None]:
    """New groups are decided one at a time: in this process by a lock, across replicas by the
    database's (held by a session of its own while the decision's work uses others)."""
    turn = _turns.setdefault(deps.db, asyncio.Lock())
    async with turn, deps.db.session() as session:
        await repo.lock_alert_gate(session=session)
        yield


async def _route(deps: Deps) -> Route:
    async with deps.db.reader() as session:
        open_from_alerts = await repo.count_open_from_source(SOURCE, session=session)
        declared = await repo.count_declared_from_source(SOURCE, since=deps.clock() - RATE_WINDOW, session=session)
    return route_new_group(open_from_alerts=open_from_alerts, declared_last_minute=declared,
                           limits=deps.settings.alert_limits)


async def _declare(notification: Notification, deps: Deps) -> Outcome:
    """The group's incident (or the storm's), the group filed under it and the alerts it owes the
    channel: one unit of work, so a declaration that fails owes nothing and leaves no incident."""
    form, key = _form(notification, deps), notification.group()
    route = await _route(deps)
    read = _firing_read(notification)
    found = new_alerts(list(read), (), room=MAX_SEEN_PER_GROUP)
    async with UnitOfWork(deps) as unit:
        if route.to == STORM:
            incident, created = await _storm(unit, form, route)
        else:
            previous = await repo.alert_group(key, session=unit.session)
            source = f"{SOURCE}{key}:{previous.incident_id if previous else 0}"
            incident, created = await declare_in(unit, form, declarer_id=None, origin_channel_id=None,
                                                 source_key=source)
        full = await _file_group(unit, key, incident, found.remember, full=found.beyond_room > 0)
        # Owed unheld, in the incident's order: a new channel hears them once its set-up (delivered by
        # the unit) has opened it; an open storm's, from the kick after the commit.
        if route.to == STORM and created:  # the storm's channel first says why it exists
            await _owe_unheld(unit, incident, "alert_storm", messages.storm_opened(
                deps.renderer, reason=route.reason, limit=_limit(route, deps)))
        text = _alert_text(deps, incident, [read[k] for k in found.remember], count=notification.firing_count(),
                           form=form, new_group=route.to == STORM, full=full)
        await _owe_unheld(unit, incident, "alerts_firing", text)
        if not created:
            unit.after_commit(lambda: deps.work.kick(incident.id))
    return Outcome("storm" if route.to == STORM else "declared", surfaces.facts_of(incident).ref)


async def _file_group(unit: UnitOfWork, key: str, incident: Incident, fingerprints: list[str], *, full: bool) -> bool:
    """The group now belongs to ``incident`` and remembers only these alerts; returns ``full``."""
    session, now = unit.session, unit.deps.clock()
    group = await repo.alert_group(key, session=session, lock=True)
    if group is None:
        group = AlertGroup(group_key=key, incident_id=incident.id, updated_at=now)
        if not await repo.add_alert_group(group, session=session):
            raise RuntimeError(f"alert group {key!r} was added while its turn was held")
    else:
        await repo.forget_fingerprints(key, session=session)
        group.incident_id, group.status, group.updated_at = incident.id, "firing", now
    group.full = full
    await repo.remember_fingerprints(key, fingerprints, session=session)
    return full


async def _owe_unheld(unit: UnitOfWork, incident: Incident, what: str, text: str) -> None:
    assert incident.id is not None
    await unit.owe(incident.id, what, outbox.message_steps(incident, text, unit.deps), held=False)


def _limit(route: Route, deps: Deps) -> int:
    return getattr(deps.settings.alert_limits, route.reason)


async def _storm(unit: UnitOfWork, trigger: DeclareForm, route: Route) -> Declared:
    """The open storm incident, or a new one (public, so the announcement channel hears of it once)."""
    deps = unit.deps
    storm = await repo.open_incident_from_source(STORM_SOURCE, session=unit.session)
    if storm is not None:
        return Declared(storm, False)
    storms = await repo.count_from_source(STORM_SOURCE, session=unit.session)
    limit = _limit(route, deps)
    form = DeclareForm(title=messages.storm_title(deps.renderer, reason=route.reason, limit=limit),
                       severity=trigger.severity, type="operational", services=trigger.services,
                       summary=messages.storm_summary(deps.renderer, reason=route.reason, limit=limit))
    log.warning("alert storm: new alert groups go to one incident (%s = %d reached)", route.reason, limit)
    return await declare_in(unit, form, declarer_id=None, origin_channel_id=None,
                            source_key=f"{STORM_SOURCE}{storms + 1}")


def _is_storm(incident: Incident) -> bool:
    return (incident.source_key or "").startswith(STORM_SOURCE)


async def _more_alerts(notification: Notification, incident: Incident, deps: Deps) -> Outcome:
    key, read = notification.group(), _firing_read(notification)
    async with UnitOfWork(deps) as unit:
        session = unit.session
        group = await repo.alert_group(key, session=session, lock=True)
        known = await repo.known_fingerprints(key, list(read), session=session)
        room = MAX_SEEN_PER_GROUP - await repo.alert_seen_count(key, session=session)
        found = new_alerts(list(read), known, room=room)
        await repo.remember_fingerprints(key, found.remember, session=session)
        now_full = found.beyond_room > 0 and not group.full  # said once: later ones are not listed
        group.full = group.full or now_full
        group.status, group.updated_at = "firing", deps.clock()
        if found.remember or now_full:
            text = _alert_text(deps, incident, [read[k] for k in found.remember], count=len(found.remember),
                               form=_form(notification, deps), new=True, full=now_full)
            await outbox.owe_message(unit, incident, "alerts_firing", text)
    return Outcome("updated" if unit.owed else "ignored", surfaces.facts_of(incident).ref)


async def _cleared(notification: Notification, group: AlertGroup | None, incident: Incident | None,
                   deps: Deps) -> Outcome:
    if group is None or incident is None:
        return Outcome("ignored")
    async with UnitOfWork(deps) as unit:
        stored = await repo.alert_group(notification.group(), session=unit.session, lock=True)
        already = stored.status == "resolved"
        stored.status, stored.updated_at = "resolved", deps.clock()
        if not already:
            await outbox.owe_message(unit, incident, "alerts_cleared", messages.cleared(
                deps.renderer, incident=surfaces.facts_of(incident), **_named(incident, _form(notification, deps))))
    return Outcome("ignored" if already else "resolved", surfaces.facts_of(incident).ref)


def _alert_text(deps: Deps, incident: Incident, alerts: list[Alert], *, count: int, form: DeclareForm,
                new: bool = False, new_group: bool = False, full: bool = False) -> str:
    """What the channel hears of firing alerts; in the (public) storm incident, see :func:`_named`."""
    named = _named(incident, form)
    withheld = bool(named["withheld"])
    rows = [] if withheld else [
        {"name": a.labels.get("alertname") or "alert", "summary": a.annotations.get("summary") or "",
         "severity": a.labels.get("severity") or "", "service": a.labels.get("service") or "",
         "url": a.generatorURL if a.generatorURL.startswith(("http://", "https://")) else ""}
        for a in alerts[:MAX_LISTED]]
    return messages.firing(deps.renderer, incident=surfaces.facts_of(incident), alerts=rows, count=count,
                           more=max(count - len(rows), 0) if not withheld else 0, new=new, new_group=new_group,
                           severity=form.severity, full=MAX_SEEN_PER_GROUP if full else 0, **named)


def _named(incident: Incident, form: DeclareForm) -> dict[str, str]:
    """How the storm incident's channel names a group: by its title, or, for a group that would be
    private on its own (security, data), by its type only; other incidents need no name."""
    if not _is_storm(incident):
        return {"group": "", "withheld": ""}
    return {"group": form.title, "withheld": form.type if is_private(form.type, False) else ""}
