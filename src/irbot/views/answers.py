"""Outcomes turned into what the person who asked is told (ephemeral answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.refusals import ClockRefused, NotAllowed, Refused
from irbot.domain.roles import Role
from irbot.domain.severities import Severity
from irbot.domain.status import TransitionError
from irbot.domain.status_page import StatusRefused
from irbot.views.messages.overdue import LIST_AT_MOST, FollowUp, line
from irbot.views.render import Renderer

if TYPE_CHECKING:
    from irbot.domain.timeline import Record
    from irbot.services.linking import Linked
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


def help_text(renderer: Renderer, *, extra_roles: Sequence[Role], announce_problem: str | None,
              unknown: str | None = None) -> str:
    """``/incident help``: ``extra_roles`` beyond the three every incident has; ``announce_problem``
    why announcements cannot be posted, if so; ``unknown``: the word that was not a subcommand."""
    text = renderer.part("help.j2", "text", extra_roles=extra_roles, announce_problem=announce_problem)
    if unknown:
        text = renderer.part("ephemeral.j2", "unknown", word=unknown) + "\n" + text
    return text


def not_in_incident(renderer: Renderer) -> str:
    """A subcommand that only makes sense in an incident's channel, run elsewhere."""
    return renderer.part("ephemeral.j2", "not_in_incident")


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


def clock_running(renderer: Renderer, *, regime: str) -> str:
    """``/incident clock``: that regime's clock runs already."""
    return renderer.part("clocks.j2", "already_running", regime=regime)


def same_severity(renderer: Renderer, *, incident: IncidentFacts, severity: Severity) -> str:
    """``/incident severity`` naming the one the incident has."""
    return renderer.part("updates.j2", "same_severity", incident=incident, severity=severity)


def form_failed(renderer: Renderer) -> str:
    """Slack did not open a form in time (its trigger lasts 3 seconds)."""
    return renderer.part("ephemeral.j2", "modal_failed")


def nothing_to_link_to(renderer: Renderer) -> str:
    """"Add to incident timeline" when no open incident is one the person may see."""
    return renderer.part("shortcuts.j2", "no_open_incidents")


def unreadable_message(renderer: Renderer, *, channel: str) -> str:
    """The message is in a private channel irbot is not in: its text cannot come along."""
    return renderer.part("shortcuts.j2", "unreadable", channel=channel)


def not_linked(renderer: Renderer, outcome: "Linked", *, ref: str) -> str:
    """Why the message did not join the chosen incident's timeline (stale, gone or already there)."""
    return renderer.part("shortcuts.j2", f"link_{outcome.value}", ref=ref)


def convert_in_dm(renderer: Renderer) -> str:
    return renderer.part("shortcuts.j2", "convert_in_dm")


def convert_in_incident(renderer: Renderer, *, ref: str) -> str:
    """``/incident convert`` in a channel that is an incident's already."""
    return renderer.part("shortcuts.j2", "convert_in_incident", ref=ref)


def convert_not_member(renderer: Renderer) -> str:
    """``/incident convert`` in a private channel irbot is not in."""
    return renderer.part("shortcuts.j2", "convert_not_member")


def assessment_reason(renderer: Renderer, context: Mapping[str, Any]) -> str:
    """Why the assessment suggests its severity (the severity change records it as its reason);
    ``context`` as ``views.blocks.assess_result`` takes it."""
    return renderer.part("assess.j2", "reason", **context)


def assessment_applied(renderer: Renderer, context: Mapping[str, Any], *, changed: bool) -> str:
    """The assessment's severity was applied, or the incident had it already."""
    return renderer.part("assess.j2", "applied" if changed else "already", **context)


def failure(renderer: Renderer, *, outage: bool) -> str:
    """Something went wrong answering; ``outage``: the database could not be reached."""
    return renderer.part("ephemeral.j2", "outage" if outage else "failure")


def refusal_text(renderer: Renderer, refused: Refused) -> str:
    """What the person is told when the rules refused their change."""
    return renderer.part(_TEMPLATE_OF[type(refused)], refused.reason, **refused.facts)


# The template whose macros word each kind of refusal (a refusal's reason is the macro's name).
_TEMPLATE_OF: dict[type[Refused], str] = {TransitionError: "status.j2", NotAllowed: "updates.j2",
                                          ClockRefused: "clocks.j2", StatusRefused: "status_page.j2"}


def modal_failed(renderer: Renderer) -> str:
    """Slack would not open a form (the person is told in the channel they typed in)."""
    return renderer.part("ephemeral.j2", "modal_failed")


def note_saved(renderer: Renderer) -> str:
    return renderer.part("timeline.j2", "note_saved")


def key_timeline(renderer: Renderer, *, incident: IncidentFacts, records: Sequence["Record"],
                 roles: Mapping[str, str]) -> str:
    # One template call for all the moments: rendering each with its own call re-ran the whole
    # template module 40 times, 15 % of irbot's CPU in bench/ack.py's mix.
    return renderer.part("timeline.j2", "key_timeline", incident=incident, records=records, roles=roles)


def no_actions(renderer: Renderer) -> str:
    return renderer.part("timeline.j2", "no_actions")


def action_missing(renderer: Renderer, *, number: int) -> str:
    return renderer.part("timeline.j2", "action_missing", number=number)


def postmortem_in_progress(renderer: Renderer, *, incident: IncidentFacts) -> str:
    return renderer.part("timeline.j2", "postmortem_in_progress", incident=incident)


def postmortem_started(renderer: Renderer, *, incident: IncidentFacts) -> str:
    return renderer.part("timeline.j2", "postmortem_started", incident=incident)


def postmortem_failed(renderer: Renderer, *, problem: str) -> str:
    return renderer.part("timeline.j2", "postmortem_failed", problem=problem)
