"""The door to PagerDuty's Events API v2: one event per POST to ``/v2/enqueue``.

PagerDuty answers 202 when it took the event; 400 when the event is invalid (a wrong routing key,
a missing field: sending it again will not help, so it is :class:`Rejected` with PagerDuty's own
words); 429 when the routing key sends too fast and 5xx when PagerDuty is in trouble (both
:class:`Refused`, which the engine retries with back-off). The routing key is in the body, never
in a URL or a log line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from irbot.outbound.errors import Refused

TIMEOUT = aiohttp.ClientTimeout(total=10)
SUMMARY_LIMIT = 1024  # PagerDuty truncates a longer payload.summary; irbot shortens it itself


class Rejected(Exception):
    """PagerDuty refused the event as invalid (HTTP 400); ``reason`` is its message and errors."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"PagerDuty rejected the event: {reason}")
        self.reason = reason


async def send_event(url: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST one event; returns PagerDuty's answer (``status``, ``message``, ``dedup_key``)."""
    body = json.dumps(event).encode()
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.post(url, data=body, allow_redirects=False,
                                    headers={"Content-Type": "application/json",
                                             "User-Agent": "irbot-pagerduty"}) as response:
                text = await response.text()
                if response.status == 202:
                    return _json(text)
                if response.status == 400:
                    raise Rejected(_reason(_json(text)) or "invalid event")
                raise Refused("pagerduty", f"http_{response.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Refused("pagerduty", type(exc).__name__) from None


def _json(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _reason(answer: dict[str, Any]) -> str:
    errors = answer.get("errors")
    listed = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
    message = str(answer.get("message") or "")
    return ": ".join(part for part in (message, listed) if part)[:300]
