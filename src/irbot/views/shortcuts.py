"""The "Add to incident timeline" form (a message shortcut)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping, Sequence

from irbot.domain.incident import IncidentFacts
from irbot.domain.text import truncate
from irbot.views.ids import Action, Block, Callback
from irbot.views.render import Renderer

OPTION_MAX = 75
MAX_OPTIONS = 100  # a static select holds at most 100 options


def link_modal(renderer: Renderer, *, incidents: Sequence[IncidentFacts], author: str | None, at: datetime,
               notes: Sequence[str], metadata: Mapping[str, Any]) -> dict[str, Any]:
    def part(name: str, **context: Any) -> str:
        return renderer.part("shortcuts.j2", name, **context)

    options = [{"text": {"type": "plain_text", "text": truncate(f"{i.ref} · {i.severity} · {i.title}", OPTION_MAX)},
                "value": str(i.id)} for i in incidents[:MAX_OPTIONS]]
    blocks: list[dict[str, Any]] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": part("link_intro", author=author, at=at)}]},
        *({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(note, 3000)}]} for note in notes),
        {"type": "input", "block_id": Block.LINK_INCIDENT,
         "label": {"type": "plain_text", "text": part("link_label_incident")},
         "element": {"type": "static_select", "action_id": Action.INPUT, "options": options,
                     **({"initial_option": options[0]} if len(options) == 1 else {})}},
        {"type": "input", "block_id": Block.LINK_NOTE, "optional": True,
         "label": {"type": "plain_text", "text": part("link_label_note")},
         "element": {"type": "plain_text_input", "action_id": Action.INPUT, "multiline": True, "max_length": 1000,
                     "placeholder": {"type": "plain_text", "text": part("link_placeholder_note")}}},
    ]
    return {"type": "modal", "callback_id": Callback.ADD_TO_TIMELINE,
            "title": {"type": "plain_text", "text": truncate(part("link_title"), 24)},
            "submit": {"type": "plain_text", "text": truncate(part("link_submit"), 24)},
            "close": {"type": "plain_text", "text": truncate(part("link_close"), 24)},
            "private_metadata": json.dumps(dict(metadata), ensure_ascii=False), "blocks": blocks}
