"""User text is data: make it safe to show inside Slack mrkdwn."""

from __future__ import annotations

import re
from typing import Any

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MENTION_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control characters.

    With ``<`` and ``>`` escaped no ``<!channel>``, ``<@U…>`` or link can be formed from user text.
    A bare ``@channel`` is also parsed by Slack in some clients, so a zero-width joiner breaks it.
    """
    escaped = "".join(_ENTITIES.get(ch, ch) for ch in text)
    return _MENTION_WORDS.sub(lambda m: "@\u2060" + m.group(1), escaped)


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)].rstrip() + ellipsis


def one_line(text: str) -> str:
    return " ".join(text.split())


# A lone surrogate (half of a UTF-16 pair, which JSON's \uXXXX escapes can carry) cannot be
# encoded as UTF-8; NUL is refused by PostgreSQL in text. Neither is ever meant by a person.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as it can be stored and sent anywhere: NUL dropped, lone surrogates made U+FFFD."""
    if not _UNSTORABLE.search(text):
        return text  # the usual case: no copy
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def clean_json(value: Any) -> Any:
    """``clean_text`` over every string (keys too) of parsed JSON. Call it only on data whose depth
    is bounded (see ``json_depth``): it recurses."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def json_depth(value: Any, *, limit: int) -> int:
    """How deeply parsed JSON nests (a scalar is 0), counting no further than ``limit + 1``.
    Iterative, so a hostile depth cannot exhaust the stack."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            pending.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def is_slack_response_url(url: object, api_url: str) -> bool:
    """Whether ``url`` is where Slack takes answers (a request's ``response_url``): Slack's hooks
    host over https, or the host of the Web API irbot is pointed at (a sandbox or a fake Slack).
    Anything else came from a forged payload: posting there would send irbot's words elsewhere."""
    from urllib.parse import urlsplit

    if not isinstance(url, str):
        return False
    try:
        target, api = urlsplit(url), urlsplit(api_url)
    except ValueError:
        return False
    if target.scheme == "https" and target.hostname == "hooks.slack.com":
        return True
    return bool(target.hostname) and (target.scheme, target.netloc) == (api.scheme, api.netloc)
