"""The Home tab: published when the person opens it; its "Declare incident" button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.services import home
from irbot.slack.declare import open_declare_modal
from irbot.slack.payloads import user_id
from irbot.views.ids import Action


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def home_opened(ack: AsyncAck, event: dict[str, Any]) -> None:
        await ack()
        if event.get("tab", "home") == "home" and event.get("user"):
            deps.tasks.spawn(home.opened(deps, event["user"]), name="home-opened")

    @app.action(Action.HOME_DECLARE)
    async def declare_from_home(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.tasks.spawn(open_declare_modal(deps, trigger_id=body["trigger_id"], user=user_id(body) or "",
                                            origin_channel=None), name="home-declare")
