"""The declare form as a person sees it: the built form (``blocks.declare_modal``, validated once per
severity and drill flag) with what this declaration brings filled in. Building and validating the
form takes a few ms of CPU right after a shortcut's ack; filling a copy takes a few µs."""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping, Sequence

from irbot.domain.declare import TITLE_MAX
from irbot.domain.text import truncate
from irbot.views.ids import Block
from irbot.views.render import Renderer

SUMMARY_MAX = 2500  # the summary input's max_length in blocks.declare_modal
NOTE_MAX = 3000


def filled(form: Mapping[str, Any], *, title: str, summary: str, notes: Sequence[str],
           metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the empty ``form`` with the title and summary prefilled, ``notes`` (mrkdwn) shown
    under its intro, and ``metadata`` as its private_metadata (JSON, as measured by its producer)."""
    view = copy.deepcopy(dict(form))
    for block in view["blocks"]:
        if block.get("block_id") == Block.TITLE and title:
            block["element"]["initial_value"] = truncate(title, TITLE_MAX)
        elif block.get("block_id") == Block.SUMMARY and summary:
            block["element"]["initial_value"] = truncate(summary, SUMMARY_MAX)
    view["blocks"][1:1] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(note, NOTE_MAX)}]}
                           for note in notes]
    view["private_metadata"] = json.dumps(dict(metadata), ensure_ascii=False)
    return view


def notes_for(renderer: Renderer, *, source: Mapping[str, Any] | None, convert: Mapping[str, Any] | None) -> list[str]:
    """What the form says above its fields about where this declaration comes from: the message
    it is declared from (or that irbot could not read it), the channel it will convert."""
    notes = []
    if source is not None:
        if source.get("readable"):
            notes.append(renderer.part("shortcuts.j2", "from_message", author=source.get("user"),
                                       channel=source.get("channel"))
                         + (renderer.part("shortcuts.j2", "cut_note") if source.get("cut") else ""))
        else:
            notes.append(renderer.part("shortcuts.j2", "unreadable", channel=source.get("channel")))
    if convert is not None:
        notes.append(renderer.part("shortcuts.j2", "convert_note", channel=convert.get("channel")))
    return notes
