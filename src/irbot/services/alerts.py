"""Alerts in: Alertmanager's webhook (version 4) declares incidents and feeds their channels.

A firing group with no open incident declares one; later notifications of the same ``groupKey``
list their new alerts in that incident's channel (each alert once, by fingerprint); a resolved
notification tells the channel the alerts cleared. Humans resolve incidents.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, ValidationError

from irbot.deps import Deps
from irbot.domain.declare import DeclareForm
from irbot.domain.severities import Severity
from irbot.domain.status import Status
from irbot.domain.text import clean_json
from irbot.domain.types import incident_type
from irbot.services import outbox, surfaces
from irbot.services.declare import open_incident_with_retries, record_declaration
from irbot.store import repo
from irbot.store.models import AlertGroup, Incident

log = logging.getLogger(__name__)


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
            return self.fingerprint
        return hashlib.sha256(json.dumps(self.labels, sort_keys=True).encode()).hexdigest()[:16]


class Notification(_Loose):
    version: str
    groupKey: str  # noqa: N815
    status: str
    alerts: list[Alert]
    commonLabels: dict[str, str] = {}  # noqa: N815
    commonAnnotations: dict[str, str] = {}  # noqa: N815


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
    try:
        # Alert text reaches the database and Slack: NUL and lone surrogates are made storable first.
        data = clean_json(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        raise MalformedNotification("body: not a JSON document") from None
    try:
        notification = Notification.model_validate(data)
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
    action: str  # declared | updated | resolved | ignored
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


async def receive(notification: Notification, deps: Deps) -> Outcome:
    """Store first (inside one transaction per group), then do the Slack work after the answer."""
    async with deps.db.session() as session:
        group = await repo.alert_group(notification.groupKey, session=session, lock=True)
        incident = await repo.get_incident(group.incident_id, session=session) if group else None
    if notification.status == "resolved":
        return await _cleared(notification, group, incident, deps)
    if incident is not None and Status(incident.status).is_open:
        return await _more_alerts(notification, incident, deps)
    return await _declare(notification, group, deps)


async def _declare(notification: Notification, group: AlertGroup | None, deps: Deps) -> Outcome:
    form = _form(notification, deps)
    source = f"alertmanager:{notification.groupKey}:{group.incident_id if group else 0}"
    incident, created = await record_declaration(form, declarer_id=None, origin_channel_id=None,
                                                 source_key=source, deps=deps)
    seen = [a.key() for a in notification.alerts]
    async with deps.db.session() as session:
        if group is None:
            won = await repo.add_alert_group(AlertGroup(group_key=notification.groupKey, incident_id=incident.id,
                                                        seen=seen, updated_at=deps.clock()), session=session)
        else:
            stored = await repo.alert_group(notification.groupKey, session=session, lock=True)
            stored.incident_id, stored.seen, stored.status = incident.id, seen, "firing"
            won = True
        # The new channel is owed the alerts that opened it (delivered once the set-up is done).
        listing = await outbox.record_message(incident, "alerts_firing", _alert_text(deps, "firing", incident,
                                              notification.alerts), session=session, deps=deps, held=False) \
            if created else None
        await session.commit()
    if listing is not None:  # whichever notification made the incident builds it, even if it lost the group
        assert listing.id is not None
        deps.tasks.spawn(_open_and_list(incident.id, listing.id, deps), name="alert-declare")
    if not won:  # the same group's other notification declared at the same moment: route to it
        return await receive(notification, deps)
    return Outcome("declared", surfaces.facts_of(incident).ref)


async def _open_and_list(incident_id: int, listing: int, deps: Deps) -> None:
    await open_incident_with_retries(incident_id, deps)
    await outbox.deliver(listing, deps)


async def _more_alerts(notification: Notification, incident: Incident, deps: Deps) -> Outcome:
    async with deps.db.session() as session:
        group = await repo.alert_group(notification.groupKey, session=session, lock=True)
        fresh = [a for a in notification.alerts if a.status == "firing" and a.key() not in group.seen]
        group.seen = [*group.seen, *(a.key() for a in fresh)]
        group.status, group.updated_at = "firing", deps.clock()
        owed = await outbox.record_message(incident, "alerts_firing", _alert_text(deps, "firing", incident, fresh),
                                           session=session, deps=deps) if fresh else None
        await session.commit()
    if owed is not None:
        outbox.deliver_soon(owed, deps)
    return Outcome("updated" if fresh else "ignored", surfaces.facts_of(incident).ref)


async def _cleared(notification: Notification, group: AlertGroup | None, incident: Incident | None,
                   deps: Deps) -> Outcome:
    if group is None or incident is None:
        return Outcome("ignored")
    async with deps.db.session() as session:
        stored = await repo.alert_group(notification.groupKey, session=session, lock=True)
        already = stored.status == "resolved"
        stored.status, stored.updated_at = "resolved", deps.clock()
        owed = None if already else await outbox.record_message(
            incident, "alerts_cleared", _alert_text(deps, "resolved", incident, notification.alerts),
            session=session, deps=deps)
        await session.commit()
    if owed is not None:
        outbox.deliver_soon(owed, deps)
    return Outcome("ignored" if already else "resolved", surfaces.facts_of(incident).ref)


def _alert_text(deps: Deps, status: str, incident: Incident, alerts: list[Alert]) -> str:
    rows = [{"name": a.labels.get("alertname") or "alert", "summary": a.annotations.get("summary") or "",
             "severity": a.labels.get("severity") or "", "service": a.labels.get("service") or "",
             "url": a.generatorURL if a.generatorURL.startswith(("http://", "https://")) else ""}
            for a in alerts[:20]]
    return deps.renderer.part("alerts.j2", status, incident=surfaces.facts_of(incident), alerts=rows,
                              more=max(len(alerts) - 20, 0))
