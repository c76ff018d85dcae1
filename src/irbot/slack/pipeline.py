"""Every Slack request, over HTTP or Socket Mode, takes the same path into Bolt:

admission (depth, text made storable, shape) → claim the delivery (repeats are dropped; events
need no claim) → Bolt, on the admitted payload → release the claim on failure.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from irbot.deps import Deps
from irbot.slack.dedupe import claim, delivery_key, release
from irbot.slack.errors import failure_teller
from irbot.slack.intake import admit
from irbot.store.db import is_unreachable
from irbot.tasks import failure_reporter

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, bolt: AsyncApp, deps: Deps) -> None:
        self.bolt = bolt
        self.deps = deps

    async def handle(self, payload: dict[str, Any], make_request: Callable[[], AsyncBoltRequest]) -> BoltResponse:
        """``payload`` is the parsed body (signature-checked in HTTP mode). The Bolt request is made
        only after admission: building one from a malformed body raises inside Bolt."""
        started = time.perf_counter()
        refusal, payload = admit(payload)
        if refusal is not None:
            return BoltResponse(status=refusal.status, body={"error": refusal.reason})
        key = delivery_key(payload)
        try:
            if key is not None and not await claim(self.deps, key):
                return BoltResponse(status=200, body="")
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            # The database is out: the person gets a polite answer from the handler's own failure.
            log.warning("delivery claim failed: database unreachable")
            key = None
        # Work the listener starts after its ack tells the person if it fails (nothing else would).
        reporting = failure_reporter.set(failure_teller(self.deps, payload))
        try:
            response = await self.bolt.async_dispatch(_with_body(make_request(), payload))
        except BaseException:
            if key is not None:
                await release(self.deps, key)
            raise
        finally:
            failure_reporter.reset(reporting)
        if key is not None and response.status >= 500:
            await release(self.deps, key)
        self.deps.metrics.request_duration.labels(kind=payload_kind(payload)).observe(time.perf_counter() - started)
        return response


def _with_body(request: AsyncBoltRequest, payload: dict[str, Any]) -> AsyncBoltRequest:
    """Listeners see the admitted payload, already parsed once by intake (with any NUL or lone
    surrogate made storable); Bolt is given no raw body to parse again."""
    request.body = payload
    request.context = build_async_context(AsyncBoltContext(), payload)
    return request


def payload_kind(payload: Mapping[str, Any]) -> str:
    if "command" in payload:
        return "command"
    return str(payload.get("type") or "other")
