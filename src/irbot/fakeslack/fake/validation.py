"""Block Kit checks: slack_sdk's own model validation plus the limits it skips.

Each function returns a list of problems (empty when fine); the caller answers
``invalid_blocks`` and records the problems as violations.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_TOPIC = 250
INTERACTIVE_HINT = ("button", "static_select", "users_select", "overflow", "datepicker",
                    "timepicker", "checkboxes", "radio_buttons", "plain_text_input",
                    "multi_static_select", "multi_users_select", "conversations_select",
                    "channels_select", "number_input", "external_select")


def check_message_blocks(blocks: Any) -> list[str]:
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return [f"blocks must be a list, got {type(blocks).__name__}"]
    problems = _sdk_blocks(blocks)
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        problems.append(f"{len(blocks)} blocks in a message (max {MAX_MESSAGE_BLOCKS})")
    problems += _extra_block_limits(blocks)
    return problems


def check_view(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return [f"view must be an object, got {type(view).__name__}"]
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"view: {exc}"]
    blocks = view.get("blocks") or []
    problems = _sdk_blocks(blocks) if isinstance(blocks, list) else ["view.blocks must be a list"]
    if isinstance(blocks, list):
        if len(blocks) > MAX_VIEW_BLOCKS:
            problems.append(f"{len(blocks)} blocks in a view (max {MAX_VIEW_BLOCKS})")
        problems += _extra_block_limits(blocks)
        if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get("submit"):
            problems.append("a view with input blocks needs `submit`")
    return problems


def check_text(text: Any, has_blocks: bool) -> list[str]:
    """The `text` beside blocks: the notification and screen-reader fallback."""
    if has_blocks and not (isinstance(text, str) and text.strip()):
        return ["`text` missing beside `blocks` (the notification/accessibility fallback)"]
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return [f"text is {len(text)} chars (max {MAX_TEXT})"]
    return []


def _sdk_blocks(blocks: list) -> list[str]:
    """Rebuild every block with slack_sdk and let ``to_dict()`` validate the tree."""
    problems: list[str] = []
    # The SDK logs and drops unknown block types; mute that log, we report it ourselves.
    sdk_logger = logging.getLogger("slack_sdk.models.blocks.blocks")
    old = sdk_logger.disabled
    sdk_logger.disabled = True
    try:
        parsed = Block.parse_all(blocks)
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"blocks: {exc}"]
    finally:
        sdk_logger.disabled = old
    for i, (raw, block) in enumerate(zip(blocks, parsed)):
        if block is None:
            problems.append(f"blocks[{i}]: unknown or malformed block {_short(raw)}")
            continue
        try:
            block.to_dict()
        except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
            problems.append(f"blocks[{i}] ({raw.get('type')}): {exc}")
    return problems


def _extra_block_limits(blocks: list) -> list[str]:
    problems: list[str] = []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            problems.append(f"blocks[{i}] is not an object")
            continue
        where = f"blocks[{i}] ({block.get('type')})"
        bid = block.get("block_id")
        if bid is not None:
            if bid in block_ids:
                problems.append(f"{where}: duplicate block_id {bid!r}")
            block_ids.add(bid)
            if len(str(bid)) > 255:
                problems.append(f"{where}: block_id longer than 255")
        problems += [f"{where}: {p}" for p in _block_limits(block)]
    return problems


def _block_limits(block: dict) -> list[str]:
    problems: list[str] = []
    kind = block.get("type")
    if kind == "section":
        problems += _max_len(block.get("text"), 3000, "section text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            problems.append(f"{len(fields)} section fields (max 10)")
        for f in fields:
            problems += _max_len(f, 2000, "section field")
    elif kind == "header":
        problems += _max_len(block.get("text"), 150, "header text")
    action_ids: set[str] = set()
    for element in _elements(block):
        problems += _element_limits(element)
        aid = element.get("action_id")
        if aid is not None:
            if aid in action_ids:
                problems.append(f"duplicate action_id {aid!r} in one block")
            action_ids.add(aid)
            if len(str(aid)) > 255:
                problems.append("action_id longer than 255")
    return problems


def _elements(block: dict) -> Iterator[dict]:
    """Interactive elements of a block: actions/context elements, accessory, input element."""
    for key in ("elements",):
        for e in block.get(key) or []:
            if isinstance(e, dict) and e.get("type") in INTERACTIVE_HINT:
                yield e
    for key in ("accessory", "element"):
        e = block.get(key)
        if isinstance(e, dict) and e.get("type") in INTERACTIVE_HINT:
            yield e


def _element_limits(element: dict) -> list[str]:
    problems: list[str] = []
    kind = element.get("type")
    if kind == "button":
        problems += _max_len(element.get("text"), 75, "button text")
    for option in _options(element):
        problems += _max_len(option.get("text"), 75, "option text")
        if len(str(option.get("value", ""))) > 150:
            problems.append("option value longer than 150")
    if kind == "plain_text_input":
        for key, low in (("max_length", 1), ("min_length", 0)):
            if key in element and not (low <= int(element[key]) <= 3000):
                problems.append(f"plain_text_input {key}={element[key]} outside {low}..3000")
    return problems


def _options(element: dict) -> Iterator[dict]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []
    for key in ("initial_option",):
        if isinstance(element.get(key), dict):
            yield element[key]


def _max_len(text_obj: Any, limit: int, what: str) -> list[str]:
    text = text_obj.get("text", "") if isinstance(text_obj, dict) else text_obj
    if isinstance(text, str) and len(text) > limit:
        return [f"{what} is {len(text)} chars (max {limit})"]
    return []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def input_block_ids(view: dict) -> set[str]:
    return {b["block_id"] for b in view.get("blocks") or [] if b.get("type") == "input" and "block_id" in b}
