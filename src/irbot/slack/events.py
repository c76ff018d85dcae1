"""Events API callbacks. Until timeline capture lands they are acknowledged and not stored."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps

ACKNOWLEDGED_EVENTS = ("message", "member_joined_channel", "reaction_added", "pin_added")


def register(app: AsyncApp, deps: Deps) -> None:
    async def acknowledge(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()

    for event_type in ACKNOWLEDGED_EVENTS:
        app.event(event_type)(acknowledge)
