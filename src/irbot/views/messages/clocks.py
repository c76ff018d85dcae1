"""What the incident channel is told about its regulatory notification clocks and legal hold."""

from __future__ import annotations

from datetime import timedelta

from irbot.domain.incident import IncidentFacts
from irbot.store.models import RegulatoryClock
from irbot.views.render import Renderer


def started(renderer: Renderer, *, clock: RegulatoryClock, actor: str | None) -> str:
    return renderer.part("clocks.j2", "started", clock=clock, actor=actor)


def reminder(renderer: Renderer, *, clock: RegulatoryClock, who: str | None, point: str, left: timedelta) -> str:
    """``who`` (Legal, else the commander, else the declarer) is reminded at ``point`` of the clock."""
    return renderer.part("clocks.j2", "reminder", clock=clock, who=who, point=point, left=left)


def missed(renderer: Renderer, *, clock: RegulatoryClock, who: str | None) -> str:
    return renderer.part("clocks.j2", "missed", clock=clock, who=who)


def notified(renderer: Renderer, *, clock: RegulatoryClock, actor: str, met: bool) -> str:
    """``met``: the notification was recorded by the deadline."""
    return renderer.part("clocks.j2", "notified", clock=clock, actor=actor, met=met)


def hold_started(renderer: Renderer, *, incident: IncidentFacts, actor: str) -> str:
    return renderer.part("clocks.j2", "hold_started", incident=incident, actor=actor)
