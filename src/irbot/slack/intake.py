"""The door before Bolt: refuse unsigned, stale or malformed requests with a 4xx.

Bolt verifies signatures too, but it answers a body it cannot parse with a 500, and Slack
retries 5xx answers. Here a request is signed-checked first (so nothing about a forged body is
revealed), then parsed and checked against the small shape irbot relies on for its type.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Literal, Mapping
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW = 60 * 5


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


class BlockActions(_Loose):
    type: Literal["block_actions"]
    user: _Id
    actions: list[_Action] = Field(min_length=1)
    channel: _Id | None = None
    container: dict[str, Any] | None = None
    trigger_id: str | None = None


class _ElementState(_Loose):
    type: str


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


class _Event(_Loose):
    type: str
    channel: str | None = None
    user: str | None = None
    ts: str | None = None
    text: str | None = None
    subtype: str | None = None
    thread_ts: str | None = None
    deleted_ts: str | None = None
    reaction: str | None = None
    message: dict[str, Any] | None = None
    previous_message: dict[str, Any] | None = None
    item: dict[str, Any] | None = None
    files: list[dict[str, Any]] | None = None


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
    if signing_secret is not None and not signed_by_slack(body, headers, signing_secret):
        return Refusal(401, "invalid request"), {}
    try:
        payload = parse_body(body, headers.get("Content-Type") or headers.get("content-type") or "")
    except ValueError as exc:
        return Refusal(400, f"malformed request: {exc}"), {}
    return None, payload


def signed_by_slack(body: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None) -> bool:
    """Slack's v0 signature over the exact bytes, from the last five minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lowered.get("x-slack-request-timestamp", ""), lowered.get("x-slack-signature", "")
    if not stamp.isdigit() or not signature:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_CLOCK_SKEW:
        return False
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if "application/json" in content_type or text.lstrip().startswith("{"):
        data = json.loads(text)
    else:
        form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
        data = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(data, dict):
        raise ValueError("the body is not an object")
    return data


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
