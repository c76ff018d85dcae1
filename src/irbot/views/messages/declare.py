"""What irbot says while declaring an incident."""

from __future__ import annotations

from irbot.domain.incident import IncidentFacts
from irbot.views import blocks
from irbot.views.render import Renderer


def unreadable_source(renderer: Renderer) -> str:
    """Stands in the timeline for a message irbot may not read (a private channel it is not in)."""
    return renderer.part("shortcuts.j2", "unreadable_text")


def setup_failed(renderer: Renderer, *, incident: IncidentFacts, problem: str) -> blocks.Message:
    """The declarer's direct message when Slack refused the incident's set-up the first time."""
    return blocks.text_message(renderer.part("ephemeral.j2", "declare_failed", incident=incident, problem=problem))
