"""The declare form's rules, independent of Slack's payload shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

TITLE_MAX = 150


@dataclass(frozen=True)
class DeclareForm:
    title: str
    severity: str
    type: str
    summary: str = ""
    services: str = ""
    affected_users: str = ""
    private: bool = False
    drill: bool = False
    impact_started: str = ""  # "YYYY-MM-DD HH:MM" in the settings' time zone, optional
    regimes: tuple[str, ...] = ()  # regulations whose notification clocks start at declare


def form_problems(form: DeclareForm, *, severities: set[str], types: set[str]) -> dict[str, str]:
    """Field name → template macro naming the problem; empty when the form is fine."""
    problems: dict[str, str] = {}
    if not form.title.strip():
        problems["title"] = "error_title_empty"
    elif len(form.title) > TITLE_MAX:
        problems["title"] = "error_title_long"
    if form.severity not in severities:
        problems["severity"] = "error_severity"
    if form.type not in types:
        problems["type"] = "error_type"
    users = form.affected_users.replace(",", "").replace("_", "").strip()
    if users and not users.isdigit():
        problems["affected_users"] = "error_users"
    if form.impact_started.strip() and parse_local_time(form.impact_started, "UTC") is None:
        problems["impact_started"] = "error_impact_started"
    return problems


def parse_local_time(text: str, tz: str) -> datetime | None:
    """``2026-11-30 14:05`` (or with a T) in the settings' time zone → an aware UTC datetime."""
    try:
        moment = datetime.strptime(" ".join(text.strip().replace("T", " ").split()), "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    return moment.replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def normalise_users(text: str) -> str:
    digits = text.replace(",", "").replace("_", "").strip()
    return f"{int(digits):,}" if digits.isdigit() else ""


# --- declaring from a message (a message shortcut) -------------------------------------------------
SHORTCUT_TITLE_MAX = 80
METADATA_MAX = 3000  # Slack's limit on a view's private_metadata


def title_from_message(text: str, limit: int = SHORTCUT_TITLE_MAX) -> str:
    """The message's first non-empty line, at most ``limit`` characters (cut with an ellipsis)."""
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def fit_text(meta: dict, key: str, encode, limit: int = METADATA_MAX) -> dict:  # noqa: ANN001
    """``meta`` with ``meta[key]`` (a text) cut until ``encode(meta)`` fits in ``limit`` characters;
    ``meta["cut"]`` says whether it was cut."""
    text = str(meta.get(key) or "")
    fitted = {**meta, key: text, "cut": False}
    while (size := len(encode(fitted))) > limit and text:
        # Escapes make the encoded text longer than the text: cut in proportion, then by steps.
        keep = min(len(text) - 16, int(len(text) * (1 - (size - limit) / max(size, 1))) - 16)
        text = text[:max(0, keep)]
        fitted = {**meta, key: text, "cut": True}
    return fitted


_SLACK_TOKEN = re.compile(r"<([^<>]+)>")
_MENTIONED = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")


def mentioned_people(text: str) -> list[str]:
    return _MENTIONED.findall(text or "")


def plain_text(text: str, names: Mapping[str, str]) -> str:
    """A message's Slack markup as a person reads it, for a plain-text field (a title, a summary):
    mentions become @names (``names``: user id → name), links their label (or URL), and Slack's
    escapes (&lt; &gt; &amp;) the characters they stand for."""
    def readable(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (names.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!date^"):
            return label
        if target.startswith("!"):
            return "@" + target[1:]
        return label or target
    return _SLACK_TOKEN.sub(readable, text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
