"""What the incident channel is told about its action items."""

from __future__ import annotations

from irbot.store.models import ActionItem
from irbot.views.render import Renderer


def added(renderer: Renderer, *, item: ActionItem) -> str:
    return renderer.part("timeline.j2", "action_added", item=item)


def updated(renderer: Renderer, *, item: ActionItem, actor: str) -> str:
    """Someone moved the item to its current status."""
    return renderer.part("timeline.j2", "action_updated", item=item, actor=actor)
