"""The public status page's rules: impacts, a component's status, the banner, who may publish.

Pure: callers pass what is stored; nothing here knows Slack, the database or HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from irbot.domain.permissions import Actors
from irbot.domain.refusals import Refused

# Resolved incidents stay on the page this long after their resolution.
RESOLVED_SHOWN_FOR = timedelta(days=14)


class Impact(StrEnum):
    DEGRADED = "degraded_performance"
    PARTIAL = "partial_outage"
    MAJOR = "major_outage"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_RANKS = {Impact.DEGRADED: 1, Impact.PARTIAL: 2, Impact.MAJOR: 3}
_LABELS = {Impact.DEGRADED: "Degraded performance", Impact.PARTIAL: "Partial outage",
           Impact.MAJOR: "Major outage"}


def parse_impact(value: object) -> Impact | None:
    try:
        return Impact(str(value))
    except ValueError:
        return None


def worst(impacts: Iterable[Impact]) -> Impact | None:
    """The most severe impact, None when there is none (everything operational)."""
    return max(impacts, key=lambda impact: impact.rank, default=None)


@dataclass(frozen=True)
class Component:
    key: str
    name: str


@dataclass(frozen=True)
class StatusPageSettings:
    title: str
    public_url: str = ""  # where people reach /status; links on the page and in the feed use it
    components: tuple[Component, ...] = ()

    def component(self, key: str) -> Component | None:
        return next((c for c in self.components if c.key == key), None)


@dataclass(frozen=True)
class Published:
    """What the page knows of one published incident (public words only)."""

    ref: str
    impact: Impact
    components: tuple[str, ...]
    open: bool


def component_statuses(components: Sequence[Component], published: Iterable[Published]) -> list[tuple[Component, Impact | None]]:
    """Each component with the worst impact among the open published incidents naming it."""
    current = [p for p in published if p.open]
    return [(c, worst(p.impact for p in current if c.key in p.components)) for c in components]


def banner(published: Iterable[Published]) -> Impact | None:
    """The page's headline: the worst impact of any open published incident (None: all operational)."""
    return worst(p.impact for p in published if p.open)


def shown_resolved(resolved_at: datetime | None, now: datetime) -> bool:
    return resolved_at is not None and now - resolved_at <= RESOLVED_SHOWN_FOR


def safe_link(url: str | None) -> str | None:
    """Only http(s) links go on the page (no javascript:, data:, mailto: …)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def publish_refusal(*, private: bool, drill: bool) -> str | None:
    """Why an incident can never be on the public page (a macro in status_page.j2), or None."""
    if drill:
        return "refuse_drill"
    if private:
        return "refuse_private"
    return None


def may_publish(actors: Actors, *, comms_lead: str | None) -> bool:
    """The commander (the declarer while there is none), the communications lead, or an admin."""
    return actors.acts_as_commander or (comms_lead is not None and actors.actor == comms_lead)


class StatusRefused(Refused):
    """A status page publication that is not allowed (who, a private incident, a drill, not published)."""
