"""Webhooks out: signed JSON per incident event, for status pages, paging and ticketing.

Deliveries run after the Slack ack, in the background, retried with backoff until the receiver
answers 2xx; a private incident is reduced to its id, severity and status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp

from irbot.config import Webhook
from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.store.models import Incident

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)


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


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def emit(event: str, incident: Incident, deps: Deps) -> None:
    """Queue a delivery to every webhook that asked for ``event`` (never awaited by a handler)."""
    hooks = [hook for hook in deps.settings.webhooks if event in hook.events]
    if not hooks:
        return
    body = json.dumps(payload(event, incident, deps.clock().isoformat()), sort_keys=True).encode()
    for hook in hooks:
        deps.tasks.spawn(deliver(hook, body, deps), name=f"webhook-{event}")


async def deliver(hook: Webhook, body: bytes, deps: Deps) -> bool:
    headers = {"Content-Type": "application/json", "X-Irbot-Signature": signature(hook.secret, body),
               "User-Agent": "irbot-webhooks"}
    for attempt, delay in enumerate((0.0, *deps.webhook_retry_delays)):
        if delay:
            await asyncio.sleep(delay)
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                async with session.post(hook.url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        deps.metrics.webhook_deliveries.labels(outcome="delivered").inc()
                        return True
                    log.warning("webhook %s answered %d (attempt %d)", _host(hook.url), response.status, attempt + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("webhook %s failed: %s (attempt %d)", _host(hook.url), type(exc).__name__, attempt + 1)
        deps.metrics.webhook_deliveries.labels(outcome="retried").inc()
    deps.metrics.webhook_deliveries.labels(outcome="gave_up").inc()
    return False


def _host(url: str) -> str:
    """Only the host goes into logs: a webhook URL may carry a token in its path."""
    return url.split("/")[2] if "//" in url else "?"
