"""What irbot says of Alertmanager's alerts, and of the alert storm incident."""

from __future__ import annotations

from typing import Any

from irbot.domain.incident import IncidentFacts
from irbot.views.render import Renderer


def storm_title(renderer: Renderer, *, reason: str, limit: int) -> str:
    return renderer.part("alerts.j2", "storm_title", reason=reason, limit=limit)


def storm_summary(renderer: Renderer, *, reason: str, limit: int) -> str:
    return renderer.part("alerts.j2", "storm_summary", reason=reason, limit=limit)


def storm_opened(renderer: Renderer, *, reason: str, limit: int) -> str:
    """The storm incident's first word in its channel: why it exists."""
    return renderer.part("alerts.j2", "storm_opened", reason=reason, limit=limit)


def firing(renderer: Renderer, *, incident: IncidentFacts, alerts: list[dict[str, Any]], count: int, more: int,
           new: bool, new_group: bool, severity: str, full: int, group: str, withheld: str) -> str:
    """Firing alerts, listed (``alerts``) or only counted; ``group``/``withheld``: how the storm
    incident names their group (empty elsewhere); ``full``: the group stopped being listed at this many."""
    return renderer.part("alerts.j2", "firing", incident=incident, alerts=alerts, count=count, more=more, new=new,
                         new_group=new_group, severity=severity, full=full, group=group, withheld=withheld)


def cleared(renderer: Renderer, *, incident: IncidentFacts, group: str, withheld: str) -> str:
    return renderer.part("alerts.j2", "resolved", incident=incident, group=group, withheld=withheld)
