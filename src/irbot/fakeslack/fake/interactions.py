"""Build interaction payloads the way Slack does, from what the person sees."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .model import Json, User

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack


@dataclass(frozen=True)
class ElementMatch:
    """Which element the person uses: by type, label/placeholder text (contains) or exact action_id."""

    types: tuple[str, ...]
    label: str | None = None
    action_id: str | None = None

    def matches(self, element: Json) -> bool:
        if element.get("type") not in self.types:
            return False
        if self.action_id is not None and element.get("action_id") == self.action_id:
            return True
        if self.label is None:
            return False
        shown = (element.get("text") or element.get("placeholder") or {}).get("text", "")
        return self.label.lower() in shown.lower()


def _elements(blocks: list[Json]) -> Iterator[tuple[Json, Json]]:
    for block in blocks:
        for element in block.get("elements") or []:
            yield block, element
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                yield block, block[key]


def find_element(blocks: list[Json], match: ElementMatch) -> tuple[Json, Json]:
    found = [(b, e) for b, e in _elements(blocks) if match.matches(e)]
    if not found:
        shown = [(e.get("type"), (e.get("text") or e.get("placeholder") or {}).get("text"), e.get("action_id"))
                 for _, e in _elements(blocks)]
        raise AssertionError(f"no element matching {match} among {shown}")
    return found[0]


def block_actions_payload(fake: FakeSlack, person: User, block: Json, element: Json, extra: Json) -> Json:
    action: Json = {"action_id": element.get("action_id", ""), "block_id": block.get("block_id", "fakeblk"),
                    "type": element.get("type"), "action_ts": fake.next_ts()}
    if element.get("type") == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    action.update(extra)
    return {"type": "block_actions", "user": {"id": person.id, "username": person.name, "name": person.name,
                                               "team_id": fake.team_id},
            "api_app_id": fake.app_id, "token": fake.verification_token,
            "team": {"id": fake.team_id, "domain": fake.team_domain}, "enterprise": None,
            "is_enterprise_install": False, "state": {"values": {}}, "actions": [action]}


def view_submission_state(fake: FakeSlack, view: Json, values: dict[str, Any]) -> Json:
    """``view.state.values`` in Slack's shape, from {label or block_id: what the person entered}."""
    inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
    remaining = dict(values)
    state: Json = {}
    for block in inputs:
        label = (block.get("label") or {}).get("text", "")
        key = next((k for k in remaining if k == block.get("block_id") or k.lower() == label.lower()), None)
        given = remaining.pop(key) if key is not None else None
        element = block["element"]
        entry = element_state(fake, element, given)
        if _is_empty(entry) and not block.get("optional"):
            raise AssertionError(f"Slack would not submit: required input {label!r} is empty")
        state[block.get("block_id", label)] = {element.get("action_id", "fakeact"): entry}
    if remaining:
        labels = [(b.get("label") or {}).get("text") for b in inputs]
        raise AssertionError(f"no input labelled {sorted(remaining)} in the view (inputs: {labels})")
    return state


def _is_empty(entry: Json) -> bool:
    return all(v in (None, "", []) for k, v in entry.items() if k != "type")


def element_state(fake: FakeSlack, element: Json, given: Any) -> Json:
    kind = element.get("type")
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        value = given if given is not None else element.get("initial_value")
        return {"type": kind, "value": None if value is None else str(value)}
    if kind in ("static_select", "radio_buttons"):
        opt = _pick(element, given) if given is not None else element.get("initial_option")
        return {"type": kind, "selected_option": opt}
    if kind in ("multi_static_select", "checkboxes"):
        picks = [_pick(element, g) for g in _listify(given)] if given is not None else element.get("initial_options", [])
        return {"type": kind, "selected_options": picks}
    if kind == "users_select":
        uid = fake.user(given).id if given is not None else element.get("initial_user")
        return {"type": kind, "selected_user": uid}
    if kind == "multi_users_select":
        uids = [fake.user(u).id for u in _listify(given)] if given is not None else element.get("initial_users", [])
        return {"type": kind, "selected_users": uids}
    if kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        cid = fake.channel(given).id if given is not None else None
        return {"type": kind, key: cid}
    if kind == "datepicker":
        value = given.isoformat() if isinstance(given, dt.date) else given
        return {"type": kind, "selected_date": value if value is not None else element.get("initial_date")}
    if kind == "timepicker":
        value = given.strftime("%H:%M") if isinstance(given, dt.time) else given
        return {"type": kind, "selected_time": value if value is not None else element.get("initial_time")}
    if kind == "datetimepicker":
        return {"type": kind, "selected_date_time": int(given) if given is not None else element.get("initial_date_time")}
    if kind == "rich_text_input":
        text = "" if given is None else str(given)
        return {"type": kind, "rich_text_value": {"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]} if text else None}
    return {"type": kind, "value": given}


def _listify(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _pick(element: Json, wanted: Any) -> Json:
    options = list(element.get("options") or []) + [o for g in element.get("option_groups") or []
                                                     for o in g.get("options") or []]
    for opt in options:
        if opt.get("value") == wanted or (opt.get("text") or {}).get("text") == wanted:
            return opt
    for opt in options:  # then a case-insensitive prefix of the label, as a person would pick
        if str((opt.get("text") or {}).get("text", "")).lower().startswith(str(wanted).lower()):
            return opt
    shown = [(o.get("text") or {}).get("text") for o in options]
    raise AssertionError(f"no option {wanted!r} among {shown}")


# ---- shortcuts (Slack's "Shortcuts interaction payloads") ----------------------------------------
# Global shortcuts send `type: shortcut` with no channel; message shortcuts send `type:
# message_action` with the channel, the message (its full structure) and a response_url.

def _shortcut_user(fake: FakeSlack, person: User) -> Json:
    return {"id": person.id, "username": person.name, "name": person.name, "team_id": fake.team_id}


def shortcut_payload(fake: FakeSlack, person: User, callback_id: str) -> Json:
    return {"type": "shortcut", "token": fake.verification_token, "action_ts": fake.next_ts(),
            "team": {"id": fake.team_id, "domain": fake.team_domain}, "user": _shortcut_user(fake, person),
            "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
            "trigger_id": fake.issue_trigger(person.id)}


def message_action_payload(fake: FakeSlack, person: User, channel: Json, message: Json, callback_id: str) -> Json:
    """``channel``: {id, name} as Slack gives it (a DM's name is "directmessage")."""
    return {"type": "message_action", "token": fake.verification_token, "action_ts": fake.next_ts(),
            "team": {"id": fake.team_id, "domain": fake.team_domain}, "user": _shortcut_user(fake, person),
            "channel": channel, "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
            "trigger_id": fake.issue_trigger(person.id),
            "response_url": fake.issue_response_url(person.id, channel["id"]),
            "message_ts": message["ts"], "message": {"type": "message", **message}}
