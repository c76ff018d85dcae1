"""What the channel and the new holder are told when a role changes hands."""

from __future__ import annotations

from irbot.domain.incident import IncidentFacts
from irbot.domain.roles import Role
from irbot.domain.severities import Severity
from irbot.views.render import Renderer


def announced(renderer: Renderer, *, role: Role, user: str, previous: str | None, by: str) -> str:
    """The channel's message: who holds the role now, who held it and who made the change."""
    return renderer.part("roles.j2", "announced", role=role, user=user, previous=previous, by=by)


def brief(renderer: Renderer, *, role: Role, incident: IncidentFacts, severity: Severity,
          channel: str | None) -> str:
    """The DM to the new holder: what the role asks of them in this incident."""
    return renderer.part("roles.j2", "brief", role=role, incident=incident, severity=severity, channel=channel)


def brief_fallback(renderer: Renderer, *, role: Role, incident: IncidentFacts) -> str:
    """The brief's notification text (a DM's preview shows this, not the blocks)."""
    return renderer.part("roles.j2", "brief_fallback", role=role, incident=incident)
