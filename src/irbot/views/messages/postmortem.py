"""The post-mortem document, and what the channel is told when it is posted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from irbot.domain.incident import IncidentFacts
from irbot.views.render import Renderer

if TYPE_CHECKING:
    from irbot.services.postmortem import Postmortem


def document(renderer: Renderer, pm: "Postmortem") -> str:
    """The Markdown file uploaded to the channel (and written by ``irbot postmortem`` offline)."""
    return renderer.markdown("postmortem.md.j2", pm=pm)


def posted(renderer: Renderer, *, incident: IncidentFacts, actor: str) -> str:
    """The upload's comment in the channel."""
    return renderer.part("timeline.j2", "postmortem_posted", incident=incident, actor=actor)
