"""Pure rules of declaring from a message and of a converted incident's set-up."""

from __future__ import annotations

import json

from irbot.domain.declare import METADATA_MAX, fit_text, title_from_message
from irbot.services.declare import setup_steps
from irbot.store.models import Incident


def test_title_is_the_first_non_empty_line() -> None:
    assert title_from_message("\n  \n  Checkout down  \nsecond") == "Checkout down"
    assert title_from_message("") == ""
    long = "x" * 200
    assert title_from_message(long) == "x" * 79 + "…" and len(title_from_message(long)) == 80
    assert title_from_message("y" * 80) == "y" * 80


def test_metadata_text_is_cut_to_fit_slacks_limit() -> None:
    encode = lambda meta: json.dumps(meta, ensure_ascii=False)  # noqa: E731
    small = fit_text({"ts": "1.2", "text": "short"}, "text", encode)
    assert small["text"] == "short" and small["cut"] is False
    big = fit_text({"ts": "1.2", "text": "é\"" * 5000}, "text", encode)
    assert big["cut"] is True and len(encode(big)) <= METADATA_MAX and big["text"]


def _incident(**fields: object) -> Incident:
    return Incident(id=1, number=1, title="t", severity="SEV-1", type="outage", **fields)


def test_setup_steps_for_each_way_of_declaring() -> None:
    plain = [s["do"] for s in setup_steps(_incident())]
    assert plain[0] == "create_channel" and plain[-1] == "opened" and "reply_to_origin" not in plain
    converted = [s["do"] for s in setup_steps(_incident(converted=True, channel_id="C1"))]
    assert converted[0] == "join_channel" and "create_channel" not in converted
    assert "capture_history" in converted and converted[-1] == "opened"
    from_message = setup_steps(_incident(origin_channel_id="C9", origin_ts="1.000001"))
    reply = next(s for s in from_message if s["do"] == "reply_to_origin")
    assert reply["wave"] == 3 and from_message[-1] == {"do": "opened", "wave": 4}, "a wave of its own"


def test_a_message_prefills_the_form_as_people_read_it() -> None:
    from irbot.domain.declare import plain_text
    text = ("<@U0BOB> says <https://status.example.com|the status page> is red &amp; "
            "<#C0OPS|ops> knows; a &lt;b&gt; <!here> <@U0NEW>")
    assert plain_text(text, {"U0BOB": "Bob Baker"}) == \
        "@Bob Baker says the status page is red & #ops knows; a <b> @here @U0NEW"
