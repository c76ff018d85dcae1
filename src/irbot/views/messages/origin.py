"""What irbot says about the message an incident was declared from, or a message added to a timeline."""

from __future__ import annotations

from datetime import datetime

from irbot.domain.incident import IncidentFacts
from irbot.views.render import Renderer


def thread_reply(renderer: Renderer, *, incident: IncidentFacts) -> str:
    """Under the message: where the incident declared from it is followed."""
    return renderer.part("shortcuts.j2", "thread_reply", incident=incident)


def told_instead(renderer: Renderer, *, incident: IncidentFacts, origin: str) -> str:
    """To the declarer, when irbot may not post under the message in ``origin``."""
    return renderer.part("shortcuts.j2", "told_instead", incident=incident, origin=origin)


def told_private(renderer: Renderer, *, incident: IncidentFacts) -> str:
    """To the declarer of a private incident: a reply under the message would show it to that channel."""
    return renderer.part("shortcuts.j2", "told_private", incident=incident)


def unreadable_text(renderer: Renderer) -> str:
    """Stands for the text of a message irbot could not read (a private channel it is not in)."""
    return renderer.part("shortcuts.j2", "unreadable_text")


def linked(renderer: Renderer, *, incident: IncidentFacts, adder: str, author: str | None, at: datetime,
           permalink: str | None, text: str, note: str) -> str:
    """The incident's channel: someone added a message from elsewhere to its timeline."""
    return renderer.part("shortcuts.j2", "linked", incident=incident, adder=adder, author=author, at=at,
                         permalink=permalink, text=text, note=note)
