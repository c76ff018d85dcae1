"""Block Kit, built in one place from rendered template parts.

Every builder returns plain dicts produced by ``slack_sdk.models`` (``to_dict()`` validates the
whole tree against the SDK's limits), so a malformed block fails here, not in Slack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from slack_sdk.models.blocks import (
    ActionsBlock, Block, ButtonElement, CheckboxesElement, ContextBlock, DividerBlock, HeaderBlock,
    InputBlock, MarkdownTextObject, Option, PlainTextInputElement, PlainTextObject, SectionBlock,
    StaticSelectElement, UserSelectElement,
)
from slack_sdk.models.views import View

from irbot.domain.incident import IncidentFacts
from irbot.domain.roles import Role
from irbot.domain.severities import Severity
from irbot.domain.text import truncate
from irbot.domain.types import INCIDENT_TYPES
from irbot.views.render import Renderer
from irbot.views.ids import Action, Block as BlockId, Callback

TITLE_MAX = 150
ROLE_BLOCK_PREFIX = "card.role."
SECTION_MAX = 3000
FIELD_MAX = 2000


@dataclass(frozen=True)
class Message:
    """A message ready for chat.postMessage / chat.update: fallback text plus blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def as_args(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))


def text_message(text: str) -> Message:
    """A plain mrkdwn message (ephemeral answers, notices)."""
    return Message(text=truncate(text, 3000), blocks=_dicts([_section(text)]))


# --- the declare form ---------------------------------------------------------------------------

def _input(block_id: str, label: str, element: Any, *, optional: bool = False, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block_id, label=PlainTextObject(text=label), element=element,
                      optional=optional, hint=PlainTextObject(text=hint) if hint else None)


def severity_option(severity: Severity) -> Option:
    return Option(value=severity.key, text=PlainTextObject(text=truncate(severity.option_text, 75)),
                  description=PlainTextObject(text=truncate(severity.description, 75)))


def declare_modal(renderer: Renderer, *, severities: Sequence[Severity], title: str, announce: str,
                  metadata: Mapping[str, Any], severity: str | None = None, drill: bool = False,
                  regulations: Sequence[tuple[str, str]] = (), timezone: str = "UTC") -> dict[str, Any]:
    def _part(renderer: Renderer, name: str, **context: Any) -> str:
        return renderer.part("declare_modal.j2", name, drill=drill, **context)

    options = [severity_option(s) for s in severities]
    flags = [Option(value="private", text=PlainTextObject(text=_part(renderer, "option_private"))),
             Option(value="drill", text=PlainTextObject(text=_part(renderer, "option_drill")))]
    chosen = next((o for o in options if o.value == severity), options[min(2, len(options) - 1)])
    type_options = [Option(value=t.key, text=PlainTextObject(text=t.label)) for t in INCIDENT_TYPES]
    blocks = [
        ContextBlock(elements=[MarkdownTextObject(text=_part(renderer, "intro", announce=announce))]),
        _input(BlockId.TITLE, _part(renderer, "label_title"), PlainTextInputElement(
            action_id=Action.INPUT, initial_value=truncate(title, TITLE_MAX) or None, max_length=TITLE_MAX,
            placeholder=PlainTextObject(text=_part(renderer, "placeholder_title")))),
        _input(BlockId.SEVERITY, _part(renderer, "label_severity"), StaticSelectElement(
            action_id=Action.INPUT, options=options, initial_option=chosen)),
        _input(BlockId.TYPE, _part(renderer, "label_type"), StaticSelectElement(
            action_id=Action.INPUT, options=type_options, initial_option=type_options[0])),
        _input(BlockId.SUMMARY, _part(renderer, "label_summary"), PlainTextInputElement(
            action_id=Action.INPUT, multiline=True, max_length=2500,
            placeholder=PlainTextObject(text=_part(renderer, "placeholder_summary"))), optional=True),
        _input(BlockId.SERVICES, _part(renderer, "label_services"), PlainTextInputElement(
            action_id=Action.INPUT, max_length=300,
            placeholder=PlainTextObject(text=_part(renderer, "placeholder_services"))), optional=True),
        _input(BlockId.USERS, _part(renderer, "label_users"), PlainTextInputElement(
            action_id=Action.INPUT, max_length=12,
            placeholder=PlainTextObject(text=_part(renderer, "placeholder_users"))), optional=True),
        _input(BlockId.IMPACT_STARTED, _part(renderer, "label_impact_started"), PlainTextInputElement(
            action_id=Action.INPUT, max_length=20,
            placeholder=PlainTextObject(text=_part(renderer, "placeholder_impact_started"))),
            optional=True, hint=_part(renderer, "hint_impact_started", timezone=timezone)),
        _input(BlockId.PRIVATE, _part(renderer, "label_private"), CheckboxesElement(
            action_id=Action.INPUT, options=flags, initial_options=[flags[1]] if drill else None),
            optional=True, hint=_part(renderer, "hint_private")),
    ]
    if regulations:
        blocks.append(_input(BlockId.REGIMES, _part(renderer, "label_regimes"), CheckboxesElement(
            action_id=Action.INPUT, options=[Option(value=key, text=PlainTextObject(text=truncate(name, 75)))
                                             for key, name in regulations[:10]]),
            optional=True, hint=_part(renderer, "hint_regimes")))
    view = View(type="modal", callback_id=Callback.DECLARE, title=PlainTextObject(text=_part(renderer, "title")),
                submit=PlainTextObject(text=_part(renderer, "submit")),
                close=PlainTextObject(text=_part(renderer, "close")),
                private_metadata=json.dumps(dict(metadata)), blocks=blocks)
    return view.to_dict()


# --- the incident card and the announcement ----------------------------------------------------

def _fields(rendered: str) -> list[MarkdownTextObject]:
    chunks = [c.strip() for c in rendered.split("\n---\n") if c.strip()]
    return [MarkdownTextObject(text=truncate(c, FIELD_MAX)) for c in chunks[:10]]


def incident_card(renderer: Renderer, facts: IncidentFacts, severity: Severity, roles: Sequence[Role],
                  holders: Mapping[str, str | None], severities: Sequence[Severity],
                  clocks: Sequence[Any] = (), *, pages: Sequence[Any] = ()) -> Message:
    def part(name: str, **extra: Any) -> str:
        return renderer.part("card.j2", name, incident=facts, severity=severity, **extra)

    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=part("header"))),
                           SectionBlock(fields=_fields(part("fields")))]
    if facts.is_open:
        blocks.append(severity_picker(renderer, severities, facts.severity))
    summary = part("summary")
    if summary:
        blocks.append(_section(summary))
    blocks.append(DividerBlock())
    for role in roles:
        blocks.append(_section(renderer.part("card.j2", "role", incident=facts, severity=severity,
                                             role=role, holder=holders.get(role.key))))
        if facts.is_open:
            blocks.append(_role_controls(renderer, role))
    for clock in clocks[:8]:
        line = _section(renderer.part("clocks.j2", "card_line", clock=clock))
        if clock.notified_at is None:
            line.accessory = ButtonElement(action_id=Action.CLOCK_NOTIFIED, value=clock.regime,
                                           text=PlainTextObject(text=renderer.part("clocks.j2", "notified_button")))
        blocks.append(line)
    shown_pages = [p for p in pages if p.state in ("triggered", "acknowledged", "refused")]
    if shown_pages:
        blocks.append(_section(renderer.part("paging.j2", "card_pages", pages=shown_pages[:10])))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(part("footer"), 3000))]))
    return Message(text=part("fallback"), blocks=_dicts(blocks))


def role_block_id(role_key: str) -> str:
    return f"{ROLE_BLOCK_PREFIX}{role_key}"


def role_from_block_id(block_id: str) -> str | None:
    return block_id[len(ROLE_BLOCK_PREFIX):] if block_id.startswith(ROLE_BLOCK_PREFIX) else None


def _role_controls(renderer: Renderer, role: Role) -> ActionsBlock:
    take = renderer.part("roles.j2", "take_button", role=role)
    assign = renderer.part("roles.j2", "assign_placeholder", role=role)
    return ActionsBlock(block_id=role_block_id(role.key), elements=[
        ButtonElement(action_id=Action.ROLE_TAKE, text=PlainTextObject(text=truncate(take, 75)), value=role.key),
        UserSelectElement(action_id=Action.ROLE_ASSIGN, placeholder=PlainTextObject(text=truncate(assign, 150))),
    ])


def announcement(renderer: Renderer, facts: IncidentFacts, severity: Severity, commander: str | None) -> Message:
    text = renderer.part("announcement.j2", "text", incident=facts, severity=severity, commander=commander)
    fallback = renderer.part("announcement.j2", "fallback", incident=facts, severity=severity)
    return Message(text=fallback, blocks=_dicts([_section(text)]))


def reminder(text: str, *, with_update_button: bool, renderer: Renderer) -> Message:
    elements: list[Block] = [_section(text)]
    if with_update_button:
        label = renderer.part("reminders.j2", "update_button")
        elements.append(ActionsBlock(elements=[ButtonElement(
            action_id=Action.UPDATE_OPEN, text=PlainTextObject(text=label), style="primary")]))
    return Message(text=truncate(text, 3000), blocks=_dicts(elements))


# --- status updates and resolution --------------------------------------------------------------

NEXT_UPDATE_CHOICES = ("15m", "30m", "1h", "2h", "4h", "1d")


def update_modal(renderer: Renderer, *, statuses: Sequence[tuple[str, str]], current: str,
                 metadata: Mapping[str, Any], public: bool = False) -> dict[str, Any]:
    """``public``: the incident is on the status page, so the form offers to post there too."""
    def part(name: str) -> str:
        return renderer.part("update_modal.j2", name)

    status_options = [Option(value=value, text=PlainTextObject(text=label)) for value, label in statuses]
    chosen = next((o for o in status_options if o.value == current), status_options[0])
    next_options = [Option(value=v, text=PlainTextObject(text=renderer.part("update_modal.j2", "next_option", every=v)))
                    for v in NEXT_UPDATE_CHOICES]
    view = View(type="modal", callback_id=Callback.UPDATE, title=PlainTextObject(text=part("title")),
                submit=PlainTextObject(text=part("submit")), close=PlainTextObject(text=part("close")),
                private_metadata=json.dumps(dict(metadata)), blocks=[
                    _input(BlockId.UPDATE_STATUS, part("label_status"), StaticSelectElement(
                        action_id=Action.INPUT, options=status_options, initial_option=chosen)),
                    _input(BlockId.UPDATE_TEXT, part("label_text"), PlainTextInputElement(
                        action_id=Action.INPUT, multiline=True, max_length=2500,
                        placeholder=PlainTextObject(text=part("placeholder_text")))),
                    _input(BlockId.UPDATE_NEXT, part("label_next"), StaticSelectElement(
                        action_id=Action.INPUT, options=next_options), optional=True, hint=part("hint_next")),
                    *(_public_update_inputs(renderer) if public else []),
                ])
    return view.to_dict()


def _public_update_inputs(renderer: Renderer) -> list[InputBlock]:
    def part(name: str) -> str:
        return renderer.part("status_page.j2", name)

    also = Option(value="public", text=PlainTextObject(text=part("option_also_public")))
    return [_input(BlockId.UPDATE_PUBLIC, part("label_also_public"),
                   CheckboxesElement(action_id=Action.INPUT, options=[also]), optional=True),
            _input(BlockId.UPDATE_PUBLIC_TEXT, part("label_public_text"), PlainTextInputElement(
                action_id=Action.INPUT, multiline=True, max_length=2000), optional=True,
                hint=part("hint_public_text"))]


def resolve_modal(renderer: Renderer, *, metadata: Mapping[str, Any], public: bool = False) -> dict[str, Any]:
    def part(name: str) -> str:
        return renderer.part("update_modal.j2", name)

    view = View(type="modal", callback_id=Callback.RESOLVE, title=PlainTextObject(text=part("resolve_title")),
                submit=PlainTextObject(text=part("resolve_submit")), close=PlainTextObject(text=part("close")),
                private_metadata=json.dumps(dict(metadata)), blocks=[
                    _input(BlockId.RESOLUTION, part("label_resolution"), PlainTextInputElement(
                        action_id=Action.INPUT, max_length=300,
                        placeholder=PlainTextObject(text=part("placeholder_resolution")))),
                    *([_input(BlockId.RESOLUTION_PUBLIC, renderer.part("status_page.j2", "label_public_resolution"),
                              PlainTextInputElement(action_id=Action.INPUT, multiline=True, max_length=2000),
                              optional=True, hint=renderer.part("status_page.j2", "hint_public_resolution"))]
                      if public else []),
                ])
    return view.to_dict()


def severity_picker(renderer: Renderer, severities: Sequence[Severity], current: str) -> ActionsBlock:
    options = [severity_option(s) for s in severities]
    chosen = next((o for o in options if o.value == current), None)
    return ActionsBlock(block_id="card.severity", elements=[StaticSelectElement(
        action_id=Action.SEVERITY_CHANGE, options=options, initial_option=chosen,
        placeholder=PlainTextObject(text=renderer.part("card.j2", "severity_placeholder")))])


def action_list(renderer: Renderer, facts: IncidentFacts, items: Sequence[Any],
                issues: Mapping[int, Any] | None = None) -> Message:
    """Action items with buttons to move each along (pending → in progress → completed), each with
    its tracker issue's link once it has one (``issues`` by item id)."""
    def part(name: str, **context: Any) -> str:
        return renderer.part("timeline.j2", name, incident=facts, **context)

    elements: list[Block] = [_section(part("actions_header"))]
    for item in items[:20]:  # 2 blocks each: stays well under Slack's 50-block message limit
        line = _section(part("action_line", item=item, issue=(issues or {}).get(item.id)))
        if item.status == "completed":
            elements.append(line)
            continue
        line.accessory = ButtonElement(action_id=Action.ACTION_STATUS, value=f"{item.number}:completed",
                                       text=PlainTextObject(text=part("button_done")), style="primary")
        elements.append(line)
    header = part("actions_header")
    return Message(text=header, blocks=_dicts(elements))


def playbook_message(renderer: Renderer, facts: IncidentFacts, steps: Sequence[str],
                     done: Mapping[int, tuple[str | None, Any]]) -> Message:
    """One section per step; an open step carries a Done button (value: the step's index)."""
    def part(name: str, **context: Any) -> str:
        return renderer.part("playbook.j2", name, incident=facts, **context)

    elements: list[Block] = [_section(part("header"))]
    for index, step in enumerate(steps[:20]):
        by, at = done.get(index, (None, None))
        line = _section(part("step", number=index + 1, text=step, done_by=by, done_at=at))
        if index not in done and facts.is_open:
            line.accessory = ButtonElement(action_id=Action.PLAYBOOK_TICK, value=str(index),
                                           text=PlainTextObject(text=part("done_button")))
        elements.append(line)
    return Message(text=part("fallback"), blocks=_dicts(elements))


# --- severity assessment ------------------------------------------------------------------------

ASSESS_FACTORS = ("business", "scope", "users", "security")


def assess_modal(renderer: Renderer, *, weights: Mapping[str, int], metadata: Mapping[str, Any]) -> dict[str, Any]:
    def part(name: str, **context: Any) -> str:
        return renderer.part("assess.j2", name, weights=weights, **context)

    inputs: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=part("intro"))])]
    for factor in ASSESS_FACTORS:
        options = [Option(value=str(level), text=PlainTextObject(text=part("level_option", level=level)),
                          description=PlainTextObject(text=truncate(part(f"level_{factor}", level=level), 75)))
                   for level in (1, 2, 3, 4)]
        inputs.append(_input(f"{BlockId.ASSESS_PREFIX}{factor}", part(f"label_{factor}"),
                             StaticSelectElement(action_id=Action.INPUT, options=options)))
    view = View(type="modal", callback_id=Callback.ASSESS, title=PlainTextObject(text=part("title")),
                submit=PlainTextObject(text=part("submit")), close=PlainTextObject(text=part("close")),
                private_metadata=json.dumps(dict(metadata)), blocks=inputs)
    return view.to_dict()


def assess_result(renderer: Renderer, *, context: Mapping[str, Any], metadata: Mapping[str, Any],
                  action: str | None, note: str | None = None) -> dict[str, Any]:
    """The answer, in the same modal: score, level, why, and Apply or Declare."""
    def part(name: str) -> str:
        return renderer.part("assess.j2", name, **context)

    elements: list[Block] = [_section(part("result"))]
    if note:
        elements.append(_section(note))
    if action:
        button = part("apply_button") if action == Action.ASSESS_APPLY else part("declare_button")
        elements.append(ActionsBlock(elements=[ButtonElement(action_id=action, style="primary",
                                                             text=PlainTextObject(text=truncate(button, 75)))]))
    view = View(type="modal", callback_id=Callback.ASSESS, title=PlainTextObject(text=part("title")),
                close=PlainTextObject(text=part("close")), private_metadata=json.dumps(dict(metadata)),
                blocks=elements)
    return view.to_dict()
