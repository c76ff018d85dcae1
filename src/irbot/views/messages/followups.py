"""What the incident's channel is told of its follow-up issues in GitHub or Jira."""

from __future__ import annotations

from irbot.store.models import ActionItem, TrackerIssue
from irbot.views.render import Renderer

# Why the tracker refused, by its answer: what people must fix (a macro of followups.j2).
_FIXES = {"http_401": "fix_token", "http_403": "fix_token", "http_404": "fix_missing"}


def issue_created(renderer: Renderer, *, item: ActionItem, issue: TrackerIssue, kind: str) -> str:
    return renderer.part("followups.j2", "issue_created", item=item, issue=issue, kind=kind)


def tracker_refused(renderer: Renderer, *, kind: str, code: str) -> str:
    """The tracker refused a request for a reason people must fix (``code``: ``http_4xx``)."""
    fix = renderer.part("followups.j2", _FIXES.get(code, "fix_rejected"), kind=kind)
    return renderer.part("followups.j2", "tracker_refused", kind=kind, code=code, fix=fix)
