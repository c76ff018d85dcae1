"""What the incident channel is told about its PagerDuty pages."""

from __future__ import annotations

from irbot.domain.incident import IncidentFacts
from irbot.views.render import Renderer


def paged(renderer: Renderer, *, incident: IncidentFacts, name: str, actor: str | None, message: str | None,
          escalation: bool) -> str:
    """PagerDuty took the trigger; ``escalation``: irbot paged because nobody took the commander's role."""
    return renderer.part("paging.j2", "paged", incident=incident, name=name, actor=actor, message=message,
                         escalation=escalation)


def rejected(renderer: Renderer, *, incident: IncidentFacts, action: str, name: str, reason: str) -> str:
    """PagerDuty refused an event for good (irbot will not send it again)."""
    return renderer.part("paging.j2", "rejected", incident=incident, action=action, name=name, reason=reason)


def gave_up(renderer: Renderer, *, incident: IncidentFacts, code: str) -> str:
    """PagerDuty could not be reached after the last retry."""
    return renderer.part("paging.j2", "gave_up", incident=incident, code=code)


def acknowledged(renderer: Renderer, *, incident: IncidentFacts, who: str, service: str) -> str:
    return renderer.part("paging.j2", "page_acknowledged", incident=incident, who=who, service=service)


def resolved(renderer: Renderer, *, incident: IncidentFacts, who: str, service: str) -> str:
    """Resolved in PagerDuty: the channel learns the incident itself stays as it is."""
    return renderer.part("paging.j2", "page_resolved", incident=incident, who=who, service=service)
