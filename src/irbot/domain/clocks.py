"""Regulatory notification clocks (GDPR, PCI DSS, HIPAA, CCPA or configured ones): deadlines and when to remind.

Reminders come at half time, three quarters, and one hour before the deadline; points already
past when a clock starts are skipped, and several points missed while irbot was down give one
reminder. At the deadline an unnotified clock is missed, and the channel is told plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from irbot.domain.durations import Duration, parse_duration


@dataclass(frozen=True)
class Regulation:
    key: str
    name: str
    notify_within: Duration
    notify_whom: str


DEFAULT_REGULATIONS: tuple[Regulation, ...] = (
    Regulation("gdpr", "GDPR", parse_duration("72h"), "the supervisory authority"),
    Regulation("pci", "PCI DSS", parse_duration("24h"), "the payment brands"),
    Regulation("hipaa", "HIPAA", parse_duration("60d"), "the affected individuals"),
    Regulation("ccpa", "CCPA", parse_duration("45d"), "the affected California residents"),
)

HALF, THREE_QUARTERS, LAST_HOUR, DEADLINE = "half", "three_quarters", "last_hour", "deadline"
LAST_HOUR_BEFORE = timedelta(hours=1)


def match_regulation(word: str, regulations: tuple[Regulation, ...]) -> Regulation | None:
    key = word.strip().lower().replace(" ", "")
    aliases = {"pcidss": "pci"}
    key = aliases.get(key, key)
    return next((r for r in regulations if r.key == key or r.name.lower().replace(" ", "") == key), None)


def clock_points(aware_at: datetime, deadline: datetime) -> list[tuple[str, datetime]]:
    """Reminder moments in order; a one-hour-before point earlier than 3/4 time is dropped."""
    span = deadline - aware_at
    points = [(HALF, aware_at + span / 2), (THREE_QUARTERS, aware_at + span * 3 / 4)]
    last_hour = deadline - LAST_HOUR_BEFORE
    if last_hour > points[-1][1]:
        points.append((LAST_HOUR, last_hour))
    points.append((DEADLINE, deadline))
    return points


def next_point(aware_at: datetime, deadline: datetime, after: datetime) -> tuple[str, datetime] | None:
    """The first point later than ``after`` (skips those already past when a clock starts)."""
    return next(((name, at) for name, at in clock_points(aware_at, deadline) if at > after), None)


def latest_point(aware_at: datetime, deadline: datetime, now: datetime) -> tuple[str, datetime] | None:
    """The most recent point reached by ``now``: what one catch-up reminder should say."""
    reached = [(name, at) for name, at in clock_points(aware_at, deadline) if at <= now]
    return reached[-1] if reached else None
