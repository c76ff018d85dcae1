"""Outcomes turned into what the person who asked is told (ephemeral answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.refusals import ClockRefused, NotAllowed, Refused
from irbot.domain.status import TransitionError
from irbot.domain.status_page import StatusRefused
from irbot.views.render import Renderer

if TYPE_CHECKING:
    from irbot.services.roles import RoleOutcome


def role_answer(renderer: Renderer, outcome: "RoleOutcome") -> str | None:
    """None when the change went through: the channel message says it all."""
    if outcome.refusal is None:
        return None
    return renderer.part("roles.j2", outcome.refusal, **outcome.context)


def incident_list(renderer: Renderer, incidents: Sequence[IncidentFacts]) -> str:
    """``/incident list``: the open incidents the person may see."""
    return renderer.part("incident_list.j2", "text", incidents=incidents)


def refusal_text(renderer: Renderer, refused: Refused) -> str:
    """What the person is told when the rules refused their change."""
    return renderer.part(_TEMPLATE_OF[type(refused)], refused.reason, **refused.facts)


# The template whose macros word each kind of refusal (a refusal's reason is the macro's name).
_TEMPLATE_OF: dict[type[Refused], str] = {TransitionError: "status.j2", NotAllowed: "updates.j2",
                                          ClockRefused: "clocks.j2", StatusRefused: "status_page.j2"}
