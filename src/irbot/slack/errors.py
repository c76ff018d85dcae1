"""What a person sees when irbot itself fails while handling their request.

Expected problems are answered by the handlers; this catches the rest. Commands, forms and
clicks get a polite explanation (the form stays open, so nothing typed is lost). Events keep
Bolt's 500: Slack then delivers them again, which is what makes a database outage lossless.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from irbot.deps import Deps

log = logging.getLogger(__name__)


def _is_outage(error: Exception) -> bool:
    return isinstance(error, (OperationalError, DBAPIError, PoolTimeout, ConnectionError, TimeoutError, OSError))


def _first_input_block(view: dict[str, Any]) -> str | None:
    return next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"), None)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        outage = _is_outage(error)
        log.error("handling a Slack request failed (%s)", type(error).__name__, exc_info=not outage)
        text = deps.renderer.part("ephemeral.j2", "outage" if outage else "failure")
        if "command" in body:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
        kind = body.get("type")
        if kind == "view_submission":
            block = _first_input_block(body.get("view") or {})
            if block:
                return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
        if kind == "block_actions" and body.get("response_url"):
            deps.tasks.spawn(_tell_by_response_url(body["response_url"], text), name="tell-failure")
            return BoltResponse(status=200, body="")
        return None  # events: stay a 500 so that Slack retries


async def _tell_by_response_url(url: str, text: str) -> None:
    try:
        await AsyncWebhookClient(url).send(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # the person already saw the click fail; nothing more to do
        log.warning("could not tell the person about the failure")
