"""Slack mrkdwn → Markdown, with people and channels by name (for the post-mortem)."""

from __future__ import annotations

import re
from typing import Callable

_TOKEN = re.compile(r"<([^<>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_LINE_START = re.compile(r"^([#>|])", re.MULTILINE)

NameOf = Callable[[str], str]


def mrkdwn_to_markdown(text: str, *, person: NameOf, channel: NameOf) -> str:
    """Mentions become names, links Markdown links, *bold* **bold**; entities are unescaped."""
    # Each step only when its character is there: a post-mortem converts every message.
    converted = _TOKEN.sub(lambda m: _token(m.group(1), person, channel), text) if "<" in text else text
    if "*" in converted:
        converted = _BOLD.sub(r"**\1**", converted)
    if "_" in converted:
        converted = _ITALIC.sub(r"*\1*", converted)
    if "~" in converted:
        converted = _STRIKE.sub(r"~~\1~~", converted)
    if "&" not in converted:
        return converted
    return converted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _token(inner: str, person: NameOf, channel: NameOf) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (person(target[1:]) or label or "someone")
    if target.startswith("#"):
        return "#" + (label or channel(target[1:]) or "a channel")
    if target.startswith("!subteam^"):
        return "@" + (label.lstrip("@") if label else "a user group")
    if target.startswith("!date^"):
        return label or "a date"
    if target.startswith("!"):
        return "@" + target[1:]
    if label:
        return f"[{_escape_brackets(label)}]({target})"
    return f"<{target}>"


def _escape_brackets(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


def escape_markdown_line(text: str) -> str:
    """Keep user text from turning into headings or tables when put at the start of a line."""
    if "\n" not in text and text[:1] not in ("#", ">", "|"):
        return text
    return _LINE_START.sub(r"\\\1", text)
