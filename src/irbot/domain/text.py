"""User text is data: make it safe to show inside Slack mrkdwn."""

from __future__ import annotations

import re

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
