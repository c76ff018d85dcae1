"""The declare form: open it from the command, validate and store on submit, then build in Slack."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Mapping

from slack_bolt.async_app import AsyncAck, AsyncApp

from irbot.deps import Deps
from irbot.domain.declare import DeclareForm, form_problems, plain_text, title_from_message
from irbot.domain.incident import incident_ref
from irbot.domain.types import INCIDENT_TYPES, is_private
from irbot.services.people import note_person
from irbot.services.declare import record_declaration
from irbot.views import answers, blocks, declare_form, usage
from irbot.outbound.slack import SlackCallError
from irbot.views.ids import Block, Callback
from irbot.slack.incident_context import incident_in_channel, tell
from irbot.slack.payloads import input_value, metadata, text_value, user_id

log = logging.getLogger(__name__)

_FIELD_BLOCKS = {"title": Block.TITLE, "severity": Block.SEVERITY, "type": Block.TYPE,
                 "affected_users": Block.USERS, "impact_started": Block.IMPACT_STARTED}


async def open_declare_modal(deps: Deps, *, trigger_id: str, user: str, origin_channel: str | None,
                             title: str = "", severity: str | None = None, drill: bool = False,
                             source: dict | None = None, convert: dict | None = None,
                             names: Mapping[str, str] | None = None) -> None:
    view = declare_view(deps, origin_channel=origin_channel, title=title, severity=severity, drill=drill,
                        source=source, convert=convert, names=names)
    try:
        await deps.slack.call("views.open", trigger_id=trigger_id, view=view)
    except SlackCallError as exc:
        if exc.code == "exchanged_trigger_id":
            return  # a repeat of the request whose form is open already
        log.warning("views.open failed: %s", exc.code)
        if origin_channel:
            await tell(deps, origin_channel, user, answers.modal_failed(deps.renderer))


def declare_view(deps: Deps, *, origin_channel: str | None, title: str = "", severity: str | None = None,
                 drill: bool = False, source: dict | None = None, convert: dict | None = None,
                 names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``source``: the message it is declared from (prefills title and summary as a person reads
    them, mentions as ``names``, and travels in the form's metadata); ``convert``: the existing
    channel it will use."""
    metadata: dict[str, Any] = {"origin": origin_channel}
    summary = ""
    if source is not None:
        metadata["message"] = source
        if source.get("readable"):
            summary = plain_text(source.get("text") or "", names or {})
            title = title or title_from_message(summary)
    if convert is not None:
        metadata["convert"] = convert
    notes = declare_form.notes_for(deps.renderer, source=source, convert=convert)
    return declare_form.filled(_empty_form(deps, severity, drill), title=title, summary=summary, notes=notes,
                               metadata=metadata)


_forms: weakref.WeakKeyDictionary[object, dict[tuple[str | None, bool], dict[str, Any]]] = \
    weakref.WeakKeyDictionary()


def _empty_form(deps: Deps, severity: str | None, drill: bool) -> dict[str, Any]:
    """Built and validated once per app (its settings and templates are fixed at start)."""
    forms = _forms.setdefault(deps.renderer, {})
    if (severity, drill) not in forms:
        forms[(severity, drill)] = blocks.declare_modal(
            deps.renderer, severities=deps.settings.severities, title="", severity=severity, metadata={},
            announce=f"#{deps.settings.announce_channel.lstrip('#')}", drill=drill, timezone=deps.settings.timezone,
            regulations=[(r.key, r.name) for r in deps.settings.regulations])
    return forms[(severity, drill)]


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
            errors = {_FIELD_BLOCKS[field]: usage.declare_field_problem(deps.renderer, problem)
                      for field, problem in problems.items()}
            await ack(response_action="errors", errors=errors)
            return
        meta = metadata(view)
        convert = meta.get("convert") if isinstance(meta.get("convert"), dict) else None
        source = meta.get("message") if isinstance(meta.get("message"), dict) and meta["message"].get("ts") else None
        if convert is not None:
            refusal = await conversion_problem(deps, form, convert)
            if refusal is not None:
                await ack(response_action="errors", errors={refusal[0]: refusal[1]})
                return
        # Stored before the ack closes the form: from here on nothing the responder typed is lost.
        # Its set-up is delivered in the background from the commit on; the ack does not wait for it.
        declared = await record_declaration(
            form, declarer_id=user_id(body), origin_channel_id=meta.get("origin"),
            source_key=view.get("id"), deps=deps, source=source, convert=convert)
        await ack()
        if declared.created:
            note_person(declared.incident.declarer_id, deps)


async def conversion_problem(deps: Deps, form: DeclareForm, convert: dict[str, Any]) -> tuple[str, str] | None:
    """Why this form cannot convert its channel (the input block to mark and the text), or None."""
    taken = await incident_in_channel(deps, convert.get("channel"))
    if taken is not None:
        return Block.TITLE, usage.convert_taken(deps.renderer, ref=incident_ref(taken.number))
    if is_private(form.type, form.private) and not convert.get("private"):
        return Block.PRIVATE, usage.convert_needs_public(deps.renderer)
    return None
