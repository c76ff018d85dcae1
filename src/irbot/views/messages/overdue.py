"""Open follow-ups as lines of text: the overdue digest DM, and the lines ``/incident followups`` shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from irbot.domain.incident import IncidentFacts
from irbot.store.models import ActionItem, TrackerIssue
from irbot.views.render import Renderer

LIST_AT_MOST = 30  # lines in one message; the rest are counted or left to the next digest


@dataclass(frozen=True)
class FollowUp:
    """An open action item with its incident and, when it has one, its tracker issue."""
    item: ActionItem
    incident: IncidentFacts
    issue: TrackerIssue | None


def line(renderer: Renderer, follow_up: FollowUp, *, today: str) -> str:
    """One item in full; ``today`` (ISO date) marks the ones past their due date."""
    issue = follow_up.issue
    return renderer.part("followups.j2", "followup_line", item=follow_up.item, incident=follow_up.incident,
                         issue={"key": issue.key, "url": issue.url} if issue is not None else None, today=today)


def digest(renderer: Renderer, follow_ups: Sequence[FollowUp], *, today: str) -> str:
    """The DM to the owner of items past their due date. The owner was named on them, but a private
    incident's item still shows only its ref and number (a DM can be read over a shoulder, forwarded)."""
    lines = [_private_line(renderer, f) if f.incident.private else line(renderer, f, today=today)
             for f in follow_ups[:LIST_AT_MOST]]
    return renderer.part("followups.j2", "overdue_digest", lines=lines)


def _private_line(renderer: Renderer, follow_up: FollowUp) -> str:
    return renderer.part("followups.j2", "private_line", item=follow_up.item, incident=follow_up.incident)
