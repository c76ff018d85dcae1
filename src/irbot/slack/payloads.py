"""Pure helpers that read Slack payloads (no I/O), like Bolt's ``payload_utils``."""

from __future__ import annotations

import json
from typing import Any, Mapping

from irbot.domain.text import clean_json, json_depth


def input_value(view: Mapping[str, Any], block_id: str) -> Any:
    """The value of the single element in an input block, whatever its type."""
    element = (((view.get("state") or {}).get("values") or {}).get(block_id) or {})
    if not element:
        return None
    state = next(iter(element.values()))
    if not isinstance(state, dict):
        return None
    kind = state.get("type")
    if kind == "static_select" or kind == "radio_buttons":
        option = state.get("selected_option") or {}
        return option.get("value")
    if kind in ("checkboxes", "multi_static_select"):
        return [o.get("value") for o in state.get("selected_options") or []]
    if kind == "users_select":
        return state.get("selected_user")
    if kind == "datepicker":
        return state.get("selected_date")
    if kind == "timepicker":
        return state.get("selected_time")
    return state.get("value")


def text_value(view: Mapping[str, Any], block_id: str) -> str:
    value = input_value(view, block_id)
    return value if isinstance(value, str) else ""


# irbot's own metadata is one flat object; anything deeper was not written by irbot.
_METADATA_DEPTH = 8


def metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON irbot put in the view's ``private_metadata``, made storable like the rest of the
    payload (its strings were still JSON escapes when the payload was cleaned); {} when unusable."""
    try:
        parsed = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError, RecursionError):
        return {}
    if not isinstance(parsed, dict) or json_depth(parsed, limit=_METADATA_DEPTH) > _METADATA_DEPTH:
        return {}
    return clean_json(parsed)


def user_id(body: Mapping[str, Any]) -> str | None:
    """Who acted: slash commands carry ``user_id``, interactions a ``user`` object."""
    if isinstance(body.get("user"), dict):
        return body["user"].get("id")
    return body.get("user_id")


def channel_id(body: Mapping[str, Any]) -> str | None:
    if isinstance(body.get("channel"), dict):
        return body["channel"].get("id")
    if isinstance(body.get("container"), dict) and body["container"].get("channel_id"):
        return body["container"]["channel_id"]
    return body.get("channel_id")
