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
