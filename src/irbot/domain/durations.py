"""Durations as people write them in the settings file: ``90s``, ``30m``, ``4h``, ``5d``, ``5bd``.

``bd`` means business days (Monday to Friday in the settings' time zone); everything else is
calendar time. Parsing is strict so a typo is an error at start, not a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|bd)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # one of s, m, h, d, bd

    @property
    def business_days(self) -> bool:
        return self.unit == "bd"

    def calendar(self) -> timedelta:
        """The duration as calendar time; business days count as whole days here."""
        if self.business_days:
            return timedelta(days=self.amount)
        return timedelta(seconds=self.amount * _UNIT_SECONDS[self.unit])

    def after(self, start: datetime, tz: str = "UTC") -> datetime:
        """The moment this long after ``start`` (aware datetime)."""
        if not self.business_days:
            return start + self.calendar()
        return add_business_days(start, self.amount, tz)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> Duration:
    match = _PATTERN.match(str(text))
    if not match:
        raise DurationError(f"{text!r} is not a duration like 90s, 30m, 4h, 5d or 5bd")
    amount = int(match.group(1))
    if amount <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    return Duration(amount, match.group(2))


def add_business_days(start: datetime, days: int, tz: str = "UTC") -> datetime:
    """Skip Saturdays and Sundays as seen in ``tz``; keep the local time of day."""
    local = start.astimezone(ZoneInfo(tz))
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local.astimezone(start.tzinfo)


def humanize(delta: timedelta) -> str:
    """``1h 5m`` style, for people reading a card or a reminder."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes = seconds // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) or "0m"
