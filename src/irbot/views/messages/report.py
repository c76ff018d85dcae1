"""The incident report as a Markdown document, and what irbot says when it shares it."""

from __future__ import annotations

from irbot.domain.report import MEASURES, Period, Report
from irbot.views.render import Renderer


def document(renderer: Renderer, report: Report) -> str:
    """The report's Markdown file (private incidents counted, never named)."""
    return renderer.document("report.md.j2", report=report, measures=MEASURES)


def posted(renderer: Renderer, *, actor: str, period: Period, count: int) -> str:
    """The comment beside the uploaded file."""
    return renderer.part("report.j2", "posted", actor=actor, period=period, count=count)


def sent_privately(renderer: Renderer, *, channel: str | None) -> str:
    """To the person, when irbot may not post where they asked (``channel``, if it is one irbot can name)."""
    return renderer.part("report.j2", "sent_privately", channel=channel)
