"""The one door to Slack's Web API.

Every call goes through :meth:`SlackGateway.call`, which retries the way Slack asks (429 after
``Retry-After``; 5xx and dropped connections with backoff), treats benign errors as success,
counts calls for ``/metrics`` and never logs a token. A post whose answer was lost is looked for
before it is retried, when it carries metadata that can identify it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, NamedTuple

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from irbot.outbound.errors import Refused

log = logging.getLogger(__name__)

# Errors that mean "what you asked for is already true".
BENIGN_ERRORS = frozenset({"already_in_channel", "already_pinned", "already_reacted", "cant_invite_self",
                           "already_joined"})
MAX_RETRY_AFTER = 120.0


class SlackCallError(Refused):
    """Slack answered ``ok: false`` (or kept failing); ``code`` is Slack's error code."""

    def __init__(self, method: str, code: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(method, code)
        self.method = method
        self.response = response or {}


class SlackUnreachable(SlackCallError):
    """Slack could not answer (no connection, no answer in time, a 5xx, rate limited); ``why`` says
    which, for people."""

    def __init__(self, method: str, why: str) -> None:
        super().__init__(method, "slack_unavailable")
        self.why = why


class Retry(NamedTuple):
    delay: float  # seconds to wait before the next try
    may_have_landed: bool  # the call may have taken effect (its answer was lost, or Slack failed after)
    why: str = ""  # what went wrong, for people


Sleep = Callable[[float], Awaitable[None]]
CallObserver = Callable[[str, str], None]


class SlackGateway:
    def __init__(self, client: AsyncWebClient, *, attempts: int = 6, base_delay: float = 0.5,
                 sleep: Sleep = asyncio.sleep, observe: CallObserver | None = None) -> None:
        self.client = client
        # The gateway owns retrying. slack_sdk's own handler retries a dropped connection at once,
        # blindly: a post whose answer was lost would be posted twice before we could look for it.
        client.retry_handlers = []
        self.attempts = attempts
        self.base_delay = base_delay
        self._sleep = sleep
        self._observe = observe or (lambda method, outcome: None)

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call ``method`` (Slack's name, e.g. ``chat.postMessage``) and return the response data."""
        function = getattr(self.client, method.replace(".", "_"))
        started = time.time()
        for attempt in range(1, self.attempts + 1):
            outcome = await self._attempt(method, function, args, attempt)
            if isinstance(outcome, dict):
                return outcome
            await self._sleep(outcome.delay)
            if outcome.may_have_landed and method == "chat.postMessage":
                landed = await self._landed_post(args, since=started)
                if landed is not None:
                    return landed
        self._observe(method, "gave_up")
        raise SlackCallError(method, "slack_unavailable")

    async def call_once(self, method: str, **args: Any) -> dict[str, Any]:
        """One try of ``method``, not retried: the caller decides when to try again (start-up).
        Raises SlackUnreachable when Slack could not answer, SlackCallError when it refused."""
        outcome = await self._attempt(method, getattr(self.client, method.replace(".", "_")), args, 1, quiet=True)
        if isinstance(outcome, Retry):
            raise SlackUnreachable(method, outcome.why)
        return outcome

    # ---- typed doors: what the engine's steps ask of Slack, by name ----------------------------
    async def create_channel(self, name: str, *, private: bool) -> dict[str, Any]:
        """The new channel (``id``, ``name`` …); ``name_taken`` is raised for the caller to resolve."""
        return (await self.call("conversations.create", name=name, is_private=private))["channel"]

    async def invite(self, channel: str, users: str) -> None:
        await self.call("conversations.invite", channel=channel, users=users)

    async def post(self, channel: str, message: Mapping[str, Any], *, metadata: dict[str, Any] | None = None,
                   thread_ts: str | None = None) -> str:
        """Post ``message`` (``text`` and ``blocks``); returns its ts."""
        extra = {k: v for k, v in (("metadata", metadata), ("thread_ts", thread_ts)) if v}
        return str((await self.call("chat.postMessage", channel=channel, **extra, **message))["ts"])

    async def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        await self.call("chat.update", channel=channel, ts=ts, **message)

    async def pin(self, channel: str, ts: str) -> None:
        await self.call("pins.add", channel=channel, timestamp=ts)

    async def set_topic(self, channel: str, topic: str) -> None:
        await self.call("conversations.setTopic", channel=channel, topic=topic)

    async def find_post(self, channel: str, mark: dict[str, Any], *, oldest: float,
                        thread_ts: str | None = None) -> str | None:
        """The ts of our message carrying metadata ``mark`` in ``channel`` (or the thread) since
        ``oldest`` (epoch seconds), if there is one."""
        method, args = ("conversations.replies", {"ts": thread_ts}) if thread_ts else ("conversations.history", {})
        async for message in self.paginate(method, "messages", channel=channel, limit=200, oldest=f"{oldest:.6f}",
                                           include_all_metadata=True, **args):
            meta = message.get("metadata") or {}
            same = (meta.get("event_type"), meta.get("event_payload")) == (mark.get("event_type"),
                                                                          mark.get("event_payload"))
            if same:
                return str(message["ts"])
        return None

    async def _landed_post(self, args: dict[str, Any], *, since: float) -> dict[str, Any] | None:
        """A post whose answer was lost (dropped connection, 5xx) may have been made all the same.
        One that carries metadata, in a channel we can read, is looked for before posting again:
        retrying blindly would post it twice. (A direct message's channel id is unknown here.)"""
        channel, mark = str(args.get("channel") or ""), args.get("metadata")
        if not mark or not channel.startswith(("C", "G")):
            return None
        try:
            ts = await self.find_post(channel, mark, oldest=since - 5, thread_ts=args.get("thread_ts"))
        except SlackCallError:
            return None  # cannot tell: post again
        if ts is None:
            return None
        log.info("Slack chat.postMessage: the lost answer's post had been made (ts %s); not posting again", ts)
        return {"ok": True, "channel": channel, "ts": ts}

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

    async def _attempt(self, method: str, function: Any, args: dict[str, Any], attempt: int,
                       quiet: bool = False) -> dict[str, Any] | Retry:
        """One try: the response data, or when to try again (``quiet``: the caller logs the failure)."""
        level = logging.DEBUG if quiet else logging.WARNING
        try:
            response = await function(**args)
            self._observe(method, "ok")
            return dict(response.data) if isinstance(response.data, dict) else {"ok": True}
        except SlackApiError as exc:
            return self._on_api_error(method, exc, attempt, level)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            self._observe(method, "connection_error")
            log.log(level, "Slack %s: connection problem (%s), attempt %d", method, type(exc).__name__, attempt)
            return Retry(self._backoff(attempt), may_have_landed=True, why=self._connection_problem(exc))

    def _on_api_error(self, method: str, exc: SlackApiError, attempt: int,
                      level: int = logging.WARNING) -> dict[str, Any] | Retry:
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if status == 429:
            self._observe(method, "ratelimited")
            retry_after = _retry_after(exc.response.headers)
            log.info("Slack %s rate limited; retrying after %.0fs", method, retry_after)
            return Retry(retry_after, may_have_landed=False, why="Slack is rate limiting irbot")
        if status >= 500:
            self._observe(method, "server_error")
            log.log(level, "Slack %s answered HTTP %d, attempt %d", method, status, attempt)
            return Retry(self._backoff(attempt), may_have_landed=True, why=f"Slack answered HTTP {status}")
        if code in BENIGN_ERRORS:
            self._observe(method, "ok")
            return {"ok": True, "benign_error": code, **{k: v for k, v in data.items() if k != "ok"}}
        self._observe(method, "error")
        raise SlackCallError(method, code, data) from None

    def _connection_problem(self, exc: BaseException) -> str:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"cannot connect to {exc.host}:{exc.port}"
        if isinstance(exc, asyncio.TimeoutError):
            return f"no answer within {self.client.timeout} s"
        detail = " ".join(str(exc).split())
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__

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
