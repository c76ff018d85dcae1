"""What a reminder says in the incident's channel, and the stakeholders' summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.reminders import ReminderKind
from irbot.domain.severities import Severity
from irbot.views import blocks
from irbot.views.render import Renderer


def reminder(renderer: Renderer, kind: ReminderKind, *, incident: IncidentFacts, severity: Severity,
             who: str | None, group: str | None, review_by: datetime) -> blocks.Message:
    """``who`` is asked (else ``group``, the escalation user group); an update's reminder carries the
    button that opens the update form."""
    text = renderer.part("reminders.j2", kind.value, incident=incident, severity=severity, who=who, group=group,
                         review_by=review_by)
    return blocks.reminder(text, with_update_button=kind == ReminderKind.UPDATE_DUE, renderer=renderer)


def stakeholder_summary(renderer: Renderer, *, incident: IncidentFacts, severity: Severity,
                        roles: Sequence[dict[str, Any]], latest: str | None, since: timedelta) -> str:
    """Where the incident stands, for people outside it: ``roles`` (name and holder), the latest update."""
    return renderer.part("reminders.j2", "stakeholder_summary", incident=incident, severity=severity, roles=roles,
                         latest=latest, since=since)
