"""What the incident channel is told when an action item's issue is closed or reopened in the tracker."""

from __future__ import annotations

from irbot.store.models import ActionItem, TrackerIssue
from irbot.views.render import Renderer


def issue_changed(renderer: Renderer, *, item: ActionItem, issue: TrackerIssue, kind: str, who: str | None,
                  status: str) -> str:
    """``kind``: the tracker ("github" or "jira"); ``who`` changed the issue there; ``status``: the item's now."""
    return renderer.part("followups.j2", "issue_changed", item=item, issue=issue, kind=kind, who=who, status=status)
