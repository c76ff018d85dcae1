"""What a person sees when irbot itself fails while handling their request.

Expected problems are answered by the handlers; this catches the rest. Commands, forms and
clicks get a polite explanation (the form stays open, so nothing typed is lost), also when the
failure comes after the ack, in the work a click or command started. Events keep Bolt's 500 when
the database is unreachable: Slack then delivers them again, which is what makes a database outage
lossless. An event whose values the database refuses is acknowledged: no retry could store it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.exc import DataError

from irbot.deps import Deps
from irbot.domain.text import is_slack_response_url
from irbot.slack.incident_context import tell
from irbot.slack.payloads import channel_id, user_id
from irbot.store.db import is_unreachable
from irbot.views import answers

log = logging.getLogger(__name__)


def _first_input_block(view: dict[str, Any]) -> str | None:
    return next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"), None)


def _explanation(deps: Deps, error: BaseException) -> str:
    return answers.failure(deps.renderer, outage=is_unreachable(error))


def register(app: AsyncApp, deps: Deps) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        outage = is_unreachable(error)
        log.error("handling a Slack request failed (%s)", type(error).__name__, exc_info=not outage)
        text = _explanation(deps, error)
        if "command" in body:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
        kind = body.get("type")
        if kind == "view_submission":
            block = _first_input_block(body.get("view") or {})
            if block:
                return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
        if kind == "block_actions" and body.get("response_url"):
            deps.tasks.spawn(_tell_by_response_url(deps, body["response_url"], text), name="tell-failure")
            return BoltResponse(status=200, body="")
        if kind == "event_callback" and isinstance(error, DataError):
            return BoltResponse(status=200, body="")  # Slack delivering it again could not store it either
        return None  # events: stay a 500 so that Slack retries


def failure_teller(deps: Deps, payload: dict[str, Any]) -> Callable[[BaseException], None] | None:
    """For clicks and commands: what tells the person when the work started after the ack fails
    (see ``irbot.tasks.failure_reporter``), as ``on_error`` tells them of a failure before it."""
    if "command" not in payload and payload.get("type") not in ("block_actions", "shortcut", "message_action"):
        return None
    return lambda error: _spawn_tell(deps, payload, error)


def _spawn_tell(deps: Deps, payload: dict[str, Any], error: BaseException) -> None:
    deps.tasks.spawn(_tell_person(deps, payload, error), name="tell-failure")


async def _tell_person(deps: Deps, body: dict[str, Any], error: BaseException) -> None:
    text = _explanation(deps, error)
    if body.get("response_url"):
        await _tell_by_response_url(deps, body["response_url"], text)
        return
    person = user_id(body)
    if not person:
        return
    try:  # a click in a form has no response_url: an ephemeral where it was, else a direct message
        await tell(deps, channel_id(body), person, text)
    except Exception:  # noqa: BLE001 - the failure itself is logged; nothing more to do
        log.warning("could not tell %s about the failure", person)


async def _tell_by_response_url(deps: Deps, url: str, text: str) -> None:
    if not is_slack_response_url(url, deps.settings.slack_api_url):
        log.warning("a request's response_url is not Slack's; not answered there")
        return
    try:
        await AsyncWebhookClient(url).send(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # the person already saw the click fail; nothing more to do
        log.warning("could not tell the person about the failure")
