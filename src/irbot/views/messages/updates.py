"""What the channel (and the stakeholders' thread) is told when an incident's update, status,
severity or resolution changes. Each function takes the incident's facts and its severity as they
are after the change."""

from __future__ import annotations

from irbot.domain.incident import IncidentFacts
from irbot.domain.severities import Severity
from irbot.domain.status import Status
from irbot.views.render import Mrkdwn, Renderer


def update(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, actor: str, text: str,
           previous: Status) -> str:
    return renderer.part("updates.j2", "update", incident=incident, severity=severity, actor=actor, text=text,
                         previous=previous)


def status_changed(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, actor: str,
                   previous: Status) -> str:
    return renderer.part("updates.j2", "status_changed", incident=incident, severity=severity, actor=actor,
                         previous=previous)


def severity_changed(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, actor: str,
                     old_severity: Severity, reason: str, group: str | None) -> str:
    """``group`` is the user group paged into the incident when the severity rose high enough."""
    return renderer.part("updates.j2", "severity_changed", incident=incident, severity=severity, actor=actor,
                         old_severity=old_severity, reason=reason, group=group)


def resolved(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, actor: str, text: str,
             previous: Status) -> str:
    return renderer.part("updates.j2", "resolved", incident=incident, severity=severity, actor=actor, text=text,
                         previous=previous)


def for_stakeholders(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, told: str) -> str:
    """The stakeholders' thread gets what the channel was told (``told``, already rendered)."""
    return renderer.part("updates.j2", "for_stakeholders", incident=incident, severity=severity, body=Mrkdwn(told))
