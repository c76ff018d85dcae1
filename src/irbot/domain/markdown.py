"""Markdown for the post-mortem: what people typed stays text, and Slack mrkdwn becomes Markdown.

Everything a person (or a Slack profile) supplies is data: a title, a summary, a message, a name or
a file name can form no heading, list, table cell, link, image or HTML in the document. The only
markup comes from irbot: the bold, italic and strike-through people wrote in Slack, mentions by
name, and links — http(s) links only; any other scheme is shown as plain text.

Slack sends ``&``, ``<`` and ``>`` typed by people as ``&amp;``, ``&lt;`` and ``&gt;``; they stay
entities in the Markdown, so a Markdown renderer shows them as characters and never as HTML.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import quote

NameOf = Callable[[str], "str | None"]


class Markdown(str):
    """Markdown irbot built, in which every piece of user text is already escaped."""


# Characters that are Markdown (or HTML) syntax anywhere on a line. `_` only where it could open or
# close emphasis: between two letters or digits (snake_case) it never does, and stays readable.
_INLINE = re.compile(r"[\\`*~\[\]|<>&]|(?<![^\W_])_|_(?![^\W_])")
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# What makes a line a heading, quote, list item, setext underline or thematic break when it starts it.
_BLOCK_START = re.compile(r"^([ \t]*)([#>+=-])", re.MULTILINE)
_ORDERED_START = re.compile(r"^([ \t]*)(\d+)([.)])", re.MULTILINE)
_NEWLINES = re.compile(r"\r\n?")

# Slack's <…> tokens: mentions, channels, special mentions, dates and links.
_TOKEN = re.compile(r"<([^<>]+)>")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WEB = re.compile(r"^https?://\S", re.IGNORECASE)
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")

# While converting, irbot's own markup is held as private-use characters, so that escaping the
# person's text around it cannot touch it; the same characters in the text itself are dropped.
_OPEN, _CLOSE, _STRONG, _EMPHASIS, _STRUCK = "\ue000", "\ue001", "\ue002", "\ue003", "\ue004"
_MARKS = re.compile("[\ue000-\ue004]")
_HELD = re.compile("\ue000(\\d+)\ue001")
_MARKUP = {_STRONG: "**", _EMPHASIS: "*", _STRUCK: "~~"}


def escape_markdown(text: str, *, one_line: bool = True) -> Markdown:
    """User text as Markdown text. ``one_line`` joins lines (table cells, headings, list items);
    otherwise line breaks stay and no line can start a block of its own."""
    text = " ".join(text.split()) if one_line else _NEWLINES.sub("\n", text)
    return Markdown(_protect_line_starts(_escape_inline(text)))


def markdown_link(label: str, url: str) -> Markdown:
    """``[label](url)`` for an http(s) URL; anything else (javascript:, data:, …) is plain text."""
    label = " ".join(label.split())
    if not is_web_link(url):
        return escape_markdown(label or url)
    return Markdown(f"[{_escape_inline(label or url)}]({_link_target(url)})")


def is_web_link(url: str) -> bool:
    return bool(_WEB.match(url.strip()))


def mrkdwn_to_markdown(text: str, *, person: NameOf, channel: NameOf) -> Markdown:
    """Mentions become names, links Markdown links, *bold* **bold**; the rest is escaped text."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(_token(match.group(1), person, channel))
        return f"{_OPEN}{len(held) - 1}{_CLOSE}"

    text = _NEWLINES.sub("\n", _MARKS.sub("", text))
    # Each step only when its character is there: a post-mortem converts every message.
    if "<" in text:
        text = _TOKEN.sub(hold, text)
    if "&" in text:
        text = _unescape_slack(text)
    if "*" in text:
        text = _BOLD.sub(f"{_STRONG}\\1{_STRONG}", text)
    if "_" in text:
        text = _ITALIC.sub(f"{_EMPHASIS}\\1{_EMPHASIS}", text)
    if "~" in text:
        text = _STRIKE.sub(f"{_STRUCK}\\1{_STRUCK}", text)
    converted = _escape_inline(text)
    if held:
        converted = _HELD.sub(lambda m: held[int(m.group(1))], converted)
    converted = _MARKS.sub(lambda m: _MARKUP.get(m.group(0), ""), converted)
    return Markdown(_protect_line_starts(converted))


def _token(inner: str, person: NameOf, channel: NameOf) -> str:
    target, _, label = inner.partition("|")
    label = _unescape_slack(label)
    if target.startswith("@"):
        return "@" + _escape_inline(person(target[1:]) or label or "someone")
    if target.startswith("#"):
        return "#" + _escape_inline(label or channel(target[1:]) or "a channel")
    if target.startswith("!subteam^"):
        return "@" + _escape_inline(label.lstrip("@") if label else "a user group")
    if target.startswith("!date^"):
        return _escape_inline(label or "a date")
    if target.startswith("!"):
        return "@" + _escape_inline(target[1:])
    if not _SCHEME.match(target):
        # Not one of Slack's tokens: text typed with angle brackets (e.g. in a form), kept as typed.
        return _escape_inline(f"<{_unescape_slack(inner)}>")
    url = _unescape_slack(target)
    if label:
        return markdown_link(label, url)
    return f"<{_link_target(url)}>" if is_web_link(url) else _escape_inline(url)


def _escape_inline(text: str) -> str:
    return _INLINE.sub(lambda m: _ENTITY.get(m.group(0)) or "\\" + m.group(0), text)


def _protect_line_starts(text: str) -> str:
    text = _BLOCK_START.sub(r"\1\\\2", text)
    return _ORDERED_START.sub(r"\1\2\\\3", text)


def _link_target(url: str) -> str:
    """A URL that cannot end the link, start a tag or break out of an HTML attribute."""
    return quote(url.strip(), safe="!#$%&'*+,-./:;=?@[]_~")


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
