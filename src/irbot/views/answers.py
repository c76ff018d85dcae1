"""Outcomes turned into what the person who asked is told (ephemeral answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.roles import Role
from irbot.domain.refusals import ClockRefused, NotAllowed, Refused
from irbot.domain.status import TransitionError
from irbot.domain.status_page import StatusRefused
from irbot.views.messages.overdue import LIST_AT_MOST, FollowUp, line
from irbot.views.render import Renderer

if TYPE_CHECKING:
    from irbot.services.paging import PageAnswer
    from irbot.services.playbooks import AlreadyTicked
    from irbot.services.roles import RoleOutcome


def role_answer(renderer: Renderer, outcome: "RoleOutcome") -> str | None:
    """None when the change went through: the channel message says it all."""
    if outcome.refusal is None:
        return None
    return renderer.part("roles.j2", outcome.refusal, **outcome.context)


def already_ticked(renderer: Renderer, already: "AlreadyTicked") -> str:
    """A checklist step ticked again: who did it first."""
    return renderer.part("playbook.j2", "already", number=already.number, done_by=already.done_by)


def page_answer(renderer: Renderer, answer: "PageAnswer") -> str:
    """``/incident page``: paging is on its way, or why nothing was paged."""
    return renderer.part("paging.j2", answer.outcome, **answer.context)


def roles_listing(renderer: Renderer, roles: Sequence[Role], holders: Mapping[str, str | None]) -> str:
    """``/incident roles``: every role and who holds it."""
    return renderer.part("roles.j2", "listing", roles=roles, holders=holders)


def assign_usage(renderer: Renderer) -> str:
    return renderer.part("roles.j2", "assign_usage")


def unknown_role(renderer: Renderer, word: str, roles: Sequence[Role]) -> str:
    return renderer.part("roles.j2", "unknown_role", word=word, roles=roles)


def unknown_person(renderer: Renderer, word: str) -> str:
    return renderer.part("roles.j2", "unknown_person", word=word)


def incident_list(renderer: Renderer, incidents: Sequence[IncidentFacts]) -> str:
    """``/incident list``: the open incidents the person may see."""
    return renderer.part("incident_list.j2", "text", incidents=incidents)


def followups(renderer: Renderer, follow_ups: Sequence[FollowUp], *, today: str) -> str:
    """``/incident followups``: the open items the person may see, the first ``LIST_AT_MOST`` in full."""
    if not follow_ups:
        return renderer.part("followups.j2", "no_followups")
    lines = [renderer.part("followups.j2", "followups_header", count=len(follow_ups))]
    lines += [line(renderer, follow_up, today=today) for follow_up in follow_ups[:LIST_AT_MOST]]
    if len(follow_ups) > LIST_AT_MOST:
        lines.append(renderer.part("followups.j2", "more_followups", count=len(follow_ups) - LIST_AT_MOST))
    return "\n".join(lines)


def report_started(renderer: Renderer) -> str:
    """``/incident report``: the file follows."""
    return renderer.part("report.j2", "started")


def report_usage(renderer: Renderer, *, problem: str) -> str:
    return renderer.part("report.j2", "usage", problem=problem)


def report_failed(renderer: Renderer, *, problem: str) -> str:
    """Slack refused the upload (``problem`` is its error code)."""
    return renderer.part("report.j2", "failed", problem=problem)


def refusal_text(renderer: Renderer, refused: Refused) -> str:
    """What the person is told when the rules refused their change."""
    return renderer.part(_TEMPLATE_OF[type(refused)], refused.reason, **refused.facts)


# The template whose macros word each kind of refusal (a refusal's reason is the macro's name).
_TEMPLATE_OF: dict[type[Refused], str] = {TransitionError: "status.j2", NotAllowed: "updates.j2",
                                          ClockRefused: "clocks.j2", StatusRefused: "status_page.j2"}
