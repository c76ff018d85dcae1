"""Webhooks out: signed JSON per incident event, for status pages, paging and ticketing.

Each delivery is owed work, stored with the change that caused it and delivered by the engine
(retried with back-off, given up after a bounded number of attempts, kept across restarts); a
private incident is reduced to its id, severity and status. The secret is looked up when sending,
so it is never stored with the owed work.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from irbot.domain.incident import incident_ref
from irbot.outbound import webhooks as door
from irbot.outbound.errors import Refused
from irbot.store.models import Incident
from irbot.work.engine import WEBHOOK, Engine, Facts, Job, Step
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)


def payload(event: str, incident: Incident, at: str) -> dict[str, Any]:
    if incident.private:
        body: dict[str, Any] = {"id": incident_ref(incident.number), "severity": incident.severity,
                                "status": incident.status}
    else:
        body = {"id": incident_ref(incident.number), "title": incident.title, "severity": incident.severity,
                "status": incident.status, "type": incident.type, "private": incident.private,
                "channel": incident.channel_name,
                "url": f"https://slack.com/app_redirect?channel={incident.channel_id}" if incident.channel_id else None}
    return {"event": event, "at": at, "incident": body}


async def owe(event: str, incident: Incident, unit: UnitOfWork) -> None:
    """Owe a delivery to every webhook that asked for ``event``, inside the change's unit of work."""
    hooks = [hook for hook in unit.deps.settings.webhooks if event in hook.events]
    if not hooks:
        return
    assert incident.id is not None
    body = json.dumps(payload(event, incident, unit.deps.clock().isoformat()), sort_keys=True)
    for hook in hooks:
        await unit.owe(incident.id, f"{WEBHOOK}:{event}", [{"do": "webhook", "url": hook.url, "body": body}])


def register(engine: Engine) -> None:
    engine.handle("webhook", _deliver)


async def _deliver(step: Step, job: Job) -> Facts | None:
    deps = job.deps
    hook = next((h for h in deps.settings.webhooks if h.url == step["url"]), None)
    if hook is None:
        log.warning("webhook %s is no longer configured; dropped a delivery", _host(step["url"]))
        return None
    try:
        await door.post_signed(hook.url, hook.secret, step["body"].encode(), timestamp=int(deps.clock().timestamp()))
    except Refused as exc:
        deps.metrics.webhook_deliveries.labels(outcome="retried").inc()
        log.warning("webhook %s refused a delivery: %s", _host(hook.url), exc.code)
        raise
    deps.metrics.webhook_deliveries.labels(outcome="delivered").inc()
    return None


def _host(url: str) -> str:
    """Only the host goes into logs: a webhook URL may carry a token in its path."""
    return url.split("/")[2] if "//" in url else "?"
