"""The words of an incident's own places in Slack: its channel topic, and every drill's banner."""

from __future__ import annotations

from irbot.domain.incident import IncidentFacts
from irbot.domain.severities import Severity
from irbot.views import blocks
from irbot.views.render import Renderer


def topic(renderer: Renderer, *, incident: IncidentFacts, severity: Severity, commander_name: str | None) -> str:
    return renderer.part("topic.j2", "text", incident=incident, severity=severity, commander_name=commander_name)


def drill_marked(renderer: Renderer, text: str, *, drill: bool) -> str:
    """Every message of a drill says so, first."""
    if not drill:
        return text
    return f"{renderer.part('drill.j2', 'banner')} · {text}"


def incident_message(renderer: Renderer, text: str, *, drill: bool) -> blocks.Message:
    """A message of an incident's: its text, marked when the incident is a drill."""
    return blocks.text_message(drill_marked(renderer, text, drill=drill))
