"""The one door to Slack's Web API.

Every call goes through :meth:`SlackGateway.call`, which retries the way Slack asks (429 after
``Retry-After``; 5xx and dropped connections with backoff), treats benign errors as success,
counts calls for ``/metrics`` and never logs a token.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Errors that mean "what you asked for is already true".
BENIGN_ERRORS = frozenset({"already_in_channel", "already_pinned", "already_reacted", "cant_invite_self",
                           "already_joined"})
MAX_RETRY_AFTER = 120.0


class SlackCallError(Exception):
    """Slack answered ``ok: false`` (or kept failing); ``code`` is Slack's error code."""

    def __init__(self, method: str, code: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(f"{method} failed: {code}")
        self.method = method
        self.code = code
        self.response = response or {}


Sleep = Callable[[float], Awaitable[None]]
CallObserver = Callable[[str, str], None]


class SlackGateway:
    def __init__(self, client: AsyncWebClient, *, attempts: int = 6, base_delay: float = 0.5,
                 sleep: Sleep = asyncio.sleep, observe: CallObserver | None = None) -> None:
        self.client = client
        self.attempts = attempts
        self.base_delay = base_delay
        self._sleep = sleep
        self._observe = observe or (lambda method, outcome: None)

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call ``method`` (Slack's name, e.g. ``chat.postMessage``) and return the response data."""
        function = getattr(self.client, method.replace(".", "_"))
        for attempt in range(1, self.attempts + 1):
            delay = await self._attempt(method, function, args, attempt)
            if isinstance(delay, dict):
                return delay
            await self._sleep(delay)
        self._observe(method, "gave_up")
        raise SlackCallError(method, "slack_unavailable")

    async def paginate(self, method: str, items: str, **args: Any) -> AsyncIterator[dict[str, Any]]:
        """Every item of a cursor-paginated method (``items`` is the list's key in the answer)."""
        cursor = None
        while True:
            page = await self.call(method, **args, **({"cursor": cursor} if cursor else {}))
            for item in page.get(items) or []:
                yield item
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    async def _attempt(self, method: str, function: Any, args: dict[str, Any], attempt: int) -> dict[str, Any] | float:
        """One try: the response data, or how long to wait before the next try."""
        try:
            response = await function(**args)
            self._observe(method, "ok")
            return dict(response.data) if isinstance(response.data, dict) else {"ok": True}
        except SlackApiError as exc:
            return self._on_api_error(method, exc, attempt)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            self._observe(method, "connection_error")
            log.warning("Slack %s: connection problem (%s), attempt %d", method, type(exc).__name__, attempt)
            return self._backoff(attempt)

    def _on_api_error(self, method: str, exc: SlackApiError, attempt: int) -> dict[str, Any] | float:
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if status == 429:
            self._observe(method, "ratelimited")
            retry_after = _retry_after(exc.response.headers)
            log.info("Slack %s rate limited; retrying after %.0fs", method, retry_after)
            return retry_after
        if status >= 500:
            self._observe(method, "server_error")
            log.warning("Slack %s answered HTTP %d, attempt %d", method, status, attempt)
            return self._backoff(attempt)
        if code in BENIGN_ERRORS:
            self._observe(method, "ok")
            return {"ok": True, "benign_error": code, **{k: v for k, v in data.items() if k != "ok"}}
        self._observe(method, "error")
        raise SlackCallError(method, code, data) from None

    def _backoff(self, attempt: int) -> float:
        return self.base_delay * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)


def _retry_after(headers: Any) -> float:
    value = None
    for name in ("Retry-After", "retry-after"):
        raw = headers.get(name) if headers else None
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        if raw is not None:
            value = raw
            break
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
