"""The door before Bolt: refuse unsigned, stale or malformed requests with a 4xx.

Bolt verifies signatures too, but it answers a body it cannot parse with a 500, and Slack
retries 5xx answers. Here a request is signed-checked first (so nothing about a forged body is
revealed), then parsed, cleaned of what cannot be stored (NUL, lone surrogates) and checked
against the small shape irbot relies on for its type. Headers are hostile until the signature
matched: whatever they hold, a bad one is a 401 and one log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from irbot.domain.text import clean_json, json_depth

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW = 60 * 5
# Slack's payloads nest a dozen levels at most (a rich-text block in a view); deeper is an attack.
MAX_DEPTH = 64
# Unix seconds in ASCII digits. str.isdigit() also takes "¹²³", and int() refuses 5,000 digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

# A Slack message timestamp ("1764489600.000100"): it becomes a time, so "nan" or "1e400" cannot be
# one, nor more than ten digits of seconds (past the year 2286, beyond what datetime can hold).
SlackTs = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}(\.[0-9]{1,9})?$")]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Id(_Loose):
    id: str


class SlashCommand(_Loose):
    command: str
    user_id: str
    text: str = ""
    channel_id: str | None = None
    trigger_id: str | None = None


class _SelectedOption(_Loose):
    value: str


class _Action(_Loose):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    selected_user: str | None = None
    selected_option: _SelectedOption | None = None


class _Container(_Loose):
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None


class BlockActions(_Loose):
    type: Literal["block_actions"]
    user: _Id
    actions: list[_Action] = Field(min_length=1)
    channel: _Id | None = None
    container: _Container | None = None
    trigger_id: str | None = None
    response_url: str | None = None


class _ElementState(_Loose):
    type: str
    value: str | None = None
    selected_option: _SelectedOption | None = None
    selected_options: list[_SelectedOption] | None = None
    selected_user: str | None = None
    selected_date: str | None = None
    selected_time: str | None = None


class _State(_Loose):
    values: dict[str, dict[str, _ElementState]] = {}


class _View(_Loose):
    id: str
    type: str
    callback_id: str
    private_metadata: str = ""
    state: _State = _State()


class ViewSubmission(_Loose):
    type: Literal["view_submission", "view_closed"]
    user: _Id
    view: _View


class Shortcut(_Loose):
    type: Literal["shortcut"]
    user: _Id
    callback_id: str
    trigger_id: str


class _ShortcutMessage(_Loose):
    ts: SlackTs
    user: str | None = None
    text: str | None = None
    thread_ts: SlackTs | None = None


class MessageAction(_Loose):
    type: Literal["message_action"]
    user: _Id
    callback_id: str
    trigger_id: str
    channel: _Id
    message: _ShortcutMessage


class _File(_Loose):
    name: str | None = None
    title: str | None = None
    permalink: str | None = None
    url_private: str | None = None


class _Edited(_Loose):
    ts: SlackTs | None = None


class _Message(_Loose):
    """A message inside an event (an edit's new and previous text, a pinned message)."""
    ts: SlackTs | None = None
    user: str | None = None
    text: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    thread_ts: SlackTs | None = None
    edited: _Edited | None = None
    files: list[_File] | None = None


class _Item(_Loose):
    channel: str | None = None
    ts: SlackTs | None = None
    message: _Message | None = None


class _Event(_Loose):
    type: str
    channel: str | None = None
    user: str | None = None
    ts: SlackTs | None = None
    event_ts: SlackTs | None = None
    text: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    thread_ts: SlackTs | None = None
    deleted_ts: SlackTs | None = None
    reaction: str | None = None
    message: _Message | None = None
    previous_message: _Message | None = None
    item: _Item | None = None
    files: list[_File] | None = None


class EventCallback(_Loose):
    type: Literal["event_callback"]
    event_id: str
    event: _Event


class UrlVerification(_Loose):
    type: Literal["url_verification"]
    challenge: str


_SHAPES: dict[str, type[BaseModel]] = {
    "block_actions": BlockActions, "view_submission": ViewSubmission, "view_closed": ViewSubmission,
    "event_callback": EventCallback, "url_verification": UrlVerification,
    "shortcut": Shortcut, "message_action": MessageAction,
}


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def check_request(body: bytes, headers: Mapping[str, str],
                  signing_secret: str | None) -> tuple[Refusal | None, dict[str, Any]]:
    """HTTP: (None, payload) when signed and parseable; otherwise the status and a short reason."""
    if len(body) > MAX_BODY_BYTES:
        return Refusal(413, "request body too large"), {}
    if signing_secret is not None:
        problem = signature_problem(body, headers, signing_secret)
        if problem is not None:
            log.warning("refused a request to /slack/events: %s", problem)
            return Refusal(401, "invalid request"), {}
    try:
        payload = parse_body(body, headers.get("Content-Type") or headers.get("content-type") or "")
    except ValueError as exc:
        return Refusal(400, f"malformed request: {exc}"), {}
    return None, payload


def signed_by_slack(body: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None) -> bool:
    """Slack's v0 signature over the exact bytes, from the last five minutes."""
    return signature_problem(body, headers, secret, now=now) is None


def signature_problem(body: bytes, headers: Mapping[str, str], secret: str, *,
                      now: float | None = None) -> str | None:
    """Why the request is not Slack's (for the log), or None when it is."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lowered.get("x-slack-request-timestamp", ""), lowered.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(stamp):
        return "no valid X-Slack-Request-Timestamp"
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_CLOCK_SKEW:
        return "X-Slack-Request-Timestamp is more than five minutes off"
    if not signature or not signature.isascii():  # compare_digest takes only ASCII strings
        return "no valid X-Slack-Signature"
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "X-Slack-Signature does not match"
    return None


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        if "application/json" in content_type or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
            data = json.loads(form["payload"]) if "payload" in form else form
    except RecursionError:  # the parser itself gave up on the depth
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not an object")
    return data


def admit(payload: dict[str, Any]) -> tuple[Refusal | None, dict[str, Any]]:
    """HTTP and Socket Mode alike: (None, the payload with its text made storable) when irbot can
    use it; otherwise the status and a short reason. Nothing unstorable gets past here: NUL and lone
    surrogates are never meant by a person, so they are dropped or replaced rather than refused."""
    if json_depth(payload, limit=MAX_DEPTH) > MAX_DEPTH:
        return Refusal(400, f"malformed request: nested deeper than {MAX_DEPTH} levels"), {}
    cleaned = clean_json(payload)
    return check_shape(cleaned), cleaned


def check_shape(payload: dict[str, Any]) -> Refusal | None:
    """None when the payload has the shape irbot relies on for its type."""
    if "command" in payload:
        shape: type[BaseModel] | None = SlashCommand
    else:
        kind = payload.get("type")
        if not isinstance(kind, str):
            return Refusal(400, "malformed request: no type")
        shape = _SHAPES.get(kind)
        if shape is None:
            return Refusal(404, f"irbot does not handle {kind[:40]!r} requests")
    try:
        shape.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return Refusal(400, f"malformed request: {where}: {first.get('msg', 'invalid')}")
    return None
