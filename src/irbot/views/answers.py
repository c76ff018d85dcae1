"""Outcomes turned into what the person who asked is told (ephemeral answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from irbot.views.render import Renderer

if TYPE_CHECKING:
    from irbot.services.roles import RoleOutcome


def role_answer(renderer: Renderer, outcome: "RoleOutcome") -> str | None:
    """None when the change went through: the channel message says it all."""
    if outcome.refusal is None:
        return None
    return renderer.part("roles.j2", outcome.refusal, **outcome.context)
