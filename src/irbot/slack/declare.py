"""The declare form: open it from the command, validate and store on submit, then build in Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.declare import DeclareForm, form_problems, TITLE_MAX
from irbot.domain.types import INCIDENT_TYPES
from irbot.services.people import note_person
from irbot.services.declare import record_declaration
from irbot.views import blocks
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Block, Callback
from irbot.slack.incident_context import tell
from irbot.slack.payloads import input_value, metadata, text_value, user_id

log = logging.getLogger(__name__)

_FIELD_BLOCKS = {"title": Block.TITLE, "severity": Block.SEVERITY, "type": Block.TYPE,
                 "affected_users": Block.USERS, "impact_started": Block.IMPACT_STARTED}


async def open_declare_modal(deps: Deps, *, trigger_id: str, user: str, origin_channel: str | None,
                             title: str = "", severity: str | None = None, drill: bool = False) -> None:
    view = declare_view(deps, origin_channel=origin_channel, title=title, severity=severity, drill=drill)
    try:
        await deps.slack.call("views.open", trigger_id=trigger_id, view=view)
    except SlackCallError as exc:
        log.warning("views.open failed: %s", exc.code)
        if origin_channel:
            text = deps.renderer.part("ephemeral.j2", "modal_failed")
            await tell(deps, origin_channel, user, text)


def declare_view(deps: Deps, *, origin_channel: str | None, title: str = "", severity: str | None = None,
                 drill: bool = False) -> dict[str, Any]:
    return blocks.declare_modal(deps.renderer, severities=deps.settings.severities, title=title,
                                announce=f"#{deps.settings.announce_channel.lstrip('#')}", severity=severity,
                                metadata={"origin": origin_channel}, drill=drill, timezone=deps.settings.timezone,
                                regulations=[(r.key, r.name) for r in deps.settings.regulations])


def form_from_view(view: dict[str, Any]) -> DeclareForm:
    private = input_value(view, Block.PRIVATE) or []
    return DeclareForm(
        title=text_value(view, Block.TITLE), severity=str(input_value(view, Block.SEVERITY) or ""),
        type=str(input_value(view, Block.TYPE) or ""), summary=text_value(view, Block.SUMMARY),
        services=text_value(view, Block.SERVICES), affected_users=text_value(view, Block.USERS),
        private="private" in private, drill="drill" in private,
        impact_started=text_value(view, Block.IMPACT_STARTED),
        regimes=tuple(input_value(view, Block.REGIMES) or ()),
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(Callback.DECLARE)
    async def declare_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = form_from_view(view)
        problems = form_problems(form, severities={s.key for s in deps.settings.severities},
                                 types={t.key for t in INCIDENT_TYPES})
        if problems:
            errors = {_FIELD_BLOCKS[field]: deps.renderer.part("declare_modal.j2", macro, limit=TITLE_MAX)
                      for field, macro in problems.items()}
            await ack(response_action="errors", errors=errors)
            return
        # Stored before the ack closes the form: from here on nothing the responder typed is lost.
        declared = await record_declaration(
            form, declarer_id=user_id(body), origin_channel_id=metadata(view).get("origin"),
            source_key=view.get("id"), deps=deps)
        await ack()
        if declared.setup is not None:
            note_person(declared.incident.declarer_id, deps)
            deps.work.deliver_soon(declared.setup, incident=declared.incident)
