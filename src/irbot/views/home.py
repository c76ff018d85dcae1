"""The Home tab's view (``views.publish``): data in, a Home view dict out.

Plain dicts rather than slack_sdk models: a Home tab with dozens of incidents is rendered on every
change, and the fake Slack validates the result with slack_sdk anyway. A Home view has no submit
or close, and at most 100 blocks (the caller caps the lists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.text import truncate
from irbot.views.ids import Action, Callback
from irbot.views.render import Renderer

SECTION_MAX = 3000
MAX_BLOCKS = 100


@dataclass(frozen=True)
class IncidentLine:
    facts: IncidentFacts
    commander: str | None
    roles: list[str]
    age: timedelta


@dataclass(frozen=True)
class ActionLine:
    number: int
    text: str
    ref: str
    private: bool
    channel_id: str | None
    due: str | None
    overdue: bool
    status: str


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}]}


def _parts(rendered: str) -> list[str]:
    return [p.strip() for p in rendered.split("\n---\n") if p.strip()]


def home_view(renderer: Renderer, *, incidents: Sequence[IncidentLine], more_incidents: int,
              actions: Sequence[ActionLine], more_actions: bool, now: datetime) -> dict[str, Any]:
    def part(name: str, **context: Any) -> str:
        return renderer.part("home.j2", name, **context)

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(part("header"), 150)}},
        {"type": "actions", "block_id": "home.declare", "elements": [
            {"type": "button", "action_id": Action.HOME_DECLARE, "style": "primary",
             "text": {"type": "plain_text", "text": truncate(part("declare_button"), 75)}}]},
        _section(part("intro", count=len(incidents), more=more_incidents)),
    ]
    if incidents:
        blocks.append({"type": "divider"})
        blocks += [_section(text) for text in _parts(part("incidents", lines=incidents))]
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": truncate(part("actions_header"), 150)}})
    if actions:
        blocks += [_section(text) for text in _parts(part("actions", items=actions))]
    else:
        blocks.append(_section(part("no_actions")))
    if more_actions:
        blocks.append(_context(part("more_actions")))
    blocks.append(_context(part("footer", now=now)))
    return {"type": "home", "callback_id": Callback.HOME, "blocks": blocks[:MAX_BLOCKS]}
