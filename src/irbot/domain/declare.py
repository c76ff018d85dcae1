"""The declare form's rules, independent of Slack's payload shape."""

from __future__ import annotations

from dataclasses import dataclass
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
