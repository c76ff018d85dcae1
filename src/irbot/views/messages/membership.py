"""What someone outside a private incident's channel is told when they ask about it."""

from __future__ import annotations

from irbot.domain.permissions import Refusal
from irbot.views.render import Renderer


def entry_refused(renderer: Renderer, refusal: Refusal) -> str:
    return renderer.part("membership.j2", refusal.reason)
