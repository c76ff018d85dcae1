"""`irbot demo`'s part for declaring from a message and the Home tab (called once from demo.py)."""

from __future__ import annotations

from typing import Any

from irbot.fakeslack.harness import Harness
from irbot.views.ids import Shortcut


async def play_declare_from_message(h: Harness, t: Any) -> None:
    """Someone reports trouble in #general; a responder declares an incident from that message."""
    fake, slack = h.fake, h.slack
    bob, carol = h.user("bob"), h.user("carol")
    t.step("bob", "posts in #general: “Search returns no results for anyone since 15:10”")
    ts = await fake.say(bob, "general", "Search returns no results for anyone since 15:10\nTried two browsers.")
    t.step("carol", "picks “Declare incident” from that message's menu")
    await slack.message_shortcut(carol, "general", ts, Shortcut.DECLARE_FROM_MESSAGE)
    await h.settle()
    view = slack.open_view(carol)
    t.show_form(view)
    await slack.submit_view(carol, view["id"], {"Severity": "SEV-3"})
    await h.settle()
    t.show_new()
    t.step("carol", "opens irbot's Home tab")
    await slack.open_home(carol)
    await h.settle()
    home = fake.home_view(carol) or {}
    for block in home.get("blocks", []):
        rendered = fake.readable({"blocks": [block]})
        if rendered.strip():
            print("  [Home] " + rendered.replace("\n", "\n         "))
