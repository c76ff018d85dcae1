"""How many incidents alerts may open, and how many alerts a group remembers.

Alertmanager is a machine: a storm (or anyone holding the alert token) can send thousands of
groups and fingerprints. Each new firing group gets its own incident only while fewer than
``max_open`` alert-declared incidents are open and fewer than ``max_new_per_minute`` were
declared in the last minute; beyond that it is listed in one "alert storm" incident, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

# The incident a new firing group goes to.
OWN_INCIDENT = "own"
STORM = "storm"


@dataclass(frozen=True)
class AlertLimits:
    max_open: int = 20  # open incidents declared from alerts (the storm incident not counted)
    max_new_per_minute: int = 5  # incidents declared from alerts in the last 60 seconds


@dataclass(frozen=True)
class Route:
    to: str  # OWN_INCIDENT | STORM
    reason: str = ""  # why a storm: "max_open" | "max_new_per_minute"


def route_new_group(*, open_from_alerts: int, declared_last_minute: int, limits: AlertLimits) -> Route:
    """Where a firing group with no open incident goes."""
    if open_from_alerts >= limits.max_open:
        return Route(STORM, "max_open")
    if declared_last_minute >= limits.max_new_per_minute:
        return Route(STORM, "max_new_per_minute")
    return Route(OWN_INCIDENT)


@dataclass(frozen=True)
class NewAlerts:
    remember: list[str]  # fingerprints to add to the group's seen set (and list in the channel)
    beyond_room: int  # new fingerprints the full seen set cannot take


def new_alerts(candidates: Sequence[str], known: Iterable[str], *, room: int) -> NewAlerts:
    """The candidates not yet seen, in order and each once; at most ``room`` of them are remembered."""
    seen = set(known)
    fresh = [key for key in dict.fromkeys(candidates) if key not in seen]  # set lookups: linear
    room = max(room, 0)
    return NewAlerts(remember=fresh[:room], beyond_room=max(len(fresh) - room, 0))
