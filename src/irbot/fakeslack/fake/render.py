"""Plain-text views of messages: what a person reads, for asserts and transcripts."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from .model import Json

MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]+))?>")


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def block_texts(block: Json) -> Iterator[str]:
    """Every human-visible string in one block, in reading order."""
    kind = block.get("type")
    if kind in ("section", "header"):
        if block.get("text"):
            yield _text(block["text"])
        for f in block.get("fields") or []:
            yield _text(f)
        if block.get("accessory"):
            yield from element_texts(block["accessory"])
    elif kind in ("context", "actions"):
        for e in block.get("elements") or []:
            yield from (element_texts(e) if e.get("type") not in ("mrkdwn", "plain_text") else [_text(e)])
    elif kind == "input":
        yield _text(block.get("label"))
        if block.get("hint"):
            yield _text(block["hint"])
    elif kind == "rich_text":
        yield from _rich_text(block)
    elif kind == "markdown":
        yield str(block.get("text", ""))
    elif kind == "image":
        yield f"[image: {block.get('alt_text', '')}]"


_CLOSED_MENUS = ("static_select", "external_select", "users_select", "conversations_select",
                 "channels_select", "overflow")


def element_texts(element: Json) -> Iterator[str]:
    kind = element.get("type")
    if kind in _CLOSED_MENUS:
        # A closed menu shows its choice (or its placeholder); the options appear only when opened.
        chosen = element.get("initial_option") or {}
        yield f"[{_text(chosen.get('text')) or _text(element.get('placeholder')) or '…'} ▾]"
        return
    if kind == "button":
        yield f"[{_text(element.get('text'))}]"
    elif kind == "image":
        yield f"[image: {element.get('alt_text', '')}]"
    for opt in element.get("options") or []:
        yield _text(opt.get("text"))
        if opt.get("description"):
            yield _text(opt["description"])
    if element.get("placeholder"):
        yield _text(element["placeholder"])


def _rich_text(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "text":
            yield str(node.get("text", ""))
        for child in node.get("elements") or []:
            yield from _rich_text(child)


def text_of(message: Json) -> str:
    """`text` plus all block texts, one string, for "does the person see X" asserts."""
    parts = [str(message.get("text") or "")]
    for block in message.get("blocks") or []:
        parts.extend(block_texts(block))
    for f in message.get("files") or []:
        parts.append(f"[file: {f.get('title') or f.get('name')}]")
    return "\n".join(p for p in parts if p)


def humanize(text: str, name_of: Callable[[str], str]) -> str:
    """<@U0ALICE> -> @alice, <#C1|name> -> #name, <!here> -> @here, <url|label> -> label."""
    def sub(m: re.Match[str]) -> str:
        sigil, ref, label = m.group(1), m.group(2), m.group(3)
        if sigil == "@":
            return "@" + (label or name_of(ref))
        if sigil == "#":
            return "#" + (label or name_of(ref))
        if ref.startswith("date^"):
            return label or ref  # Slack shows the date in the reader's zone; the fallback stands in
        if ref.startswith("subteam^"):
            return "@" + (label or ref.split("^")[1])
        return "@" + ref.split("^")[0]
    text = MENTION.sub(sub, text)
    text = re.sub(r"<(https?://[^>|]+)\|([^>]+)>", r"\2", text)
    # What Slack displays for its three escaped characters.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_message(message: Json, name_of: Callable[[str], str]) -> str:
    """A readable transcript entry: who, when-ish, then the content lines."""
    who = name_of(message.get("user", "")) if message.get("user") else "?"
    if message.get("is_ephemeral"):
        who = "irbot"
    if message.get("bot_id") or message.get("is_ephemeral"):
        who += " (app)"
    head = f"{who}"
    if message.get("subtype") and message["subtype"] not in ("thread_broadcast",):
        head += f" [{message['subtype']}]"
    if message.get("thread_ts") not in (None, message.get("ts")):
        head = "  ↳ " + head
    if message.get("is_ephemeral"):
        head += " (only visible to you)"
    if message.get("edited"):
        head += " (edited)"
    # With blocks, people read the blocks; ``text`` is only the notification fallback.
    shown = {**message, "text": ""} if message.get("blocks") else message
    body = humanize(text_of(shown), name_of)
    lines = [f"    {line}" for line in body.splitlines() if line.strip()]
    if message.get("reactions"):
        lines.append("    " + " ".join(f":{r['name']}: {r['count']}" for r in message["reactions"]))
    return "\n".join([head + ":", *lines])
