"""How a command is used, and what a form says is missing beside one of its fields: the answers a
listener gives before any service is asked (beside ``views.answers``, which words outcomes)."""

from __future__ import annotations

from typing import Sequence

from irbot.domain.clocks import Regulation
from irbot.domain.declare import TITLE_MAX
from irbot.domain.roles import Role
from irbot.domain.severities import Severity
from irbot.views.render import Renderer


# ---- commands ------------------------------------------------------------------------------------
def assign_usage(renderer: Renderer) -> str:
    return renderer.part("roles.j2", "assign_usage")


def unknown_role(renderer: Renderer, word: str, roles: Sequence[Role]) -> str:
    return renderer.part("roles.j2", "unknown_role", word=word, roles=roles)


def unknown_person(renderer: Renderer, word: str) -> str:
    return renderer.part("roles.j2", "unknown_person", word=word)


def clock_usage(renderer: Renderer, regulations: Sequence[Regulation]) -> str:
    return renderer.part("clocks.j2", "clock_usage", regulations=regulations)


def notified_usage(renderer: Renderer) -> str:
    return renderer.part("clocks.j2", "notified_usage")


def status_usage(renderer: Renderer, statuses: Sequence[str]) -> str:
    return renderer.part("updates.j2", "status_usage", statuses=statuses)


def severity_usage(renderer: Renderer, severities: Sequence[Severity]) -> str:
    return renderer.part("updates.j2", "severity_usage", severities=severities)


# ---- forms: the update and resolve forms ----------------------------------------------------------
def update_text_empty(renderer: Renderer) -> str:
    return renderer.part("update_modal.j2", "error_text_empty")


def resolution_empty(renderer: Renderer) -> str:
    return renderer.part("update_modal.j2", "error_resolution_empty")


def public_text_empty(renderer: Renderer) -> str:
    """"Also post on the status page" ticked without a public text."""
    return renderer.part("status_page.j2", "error_public_text_empty")


def no_longer_published(renderer: Renderer) -> str:
    """"Also post on the status page" ticked, but the incident was taken off the page meanwhile."""
    return renderer.part("status_page.j2", "error_not_published")


# ---- forms: the status page's publish form --------------------------------------------------------
def public_title_empty(renderer: Renderer) -> str:
    return renderer.part("status_page.j2", "error_title_empty")


def impact_missing(renderer: Renderer) -> str:
    return renderer.part("status_page.j2", "error_impact")


def public_message_empty(renderer: Renderer) -> str:
    return renderer.part("status_page.j2", "error_message_empty")


# ---- forms: the declare form ---------------------------------------------------------------------
def declare_field_problem(renderer: Renderer, problem: str) -> str:
    """What the declare form says beside a field ``domain.declare.form_problems`` found wrong."""
    return renderer.part("declare_modal.j2", problem, limit=TITLE_MAX)


def convert_taken(renderer: Renderer, *, ref: str) -> str:
    """The channel to convert runs an incident already."""
    return renderer.part("shortcuts.j2", "error_convert_taken", ref=ref)


def convert_needs_public(renderer: Renderer) -> str:
    """A private incident cannot take over a public channel."""
    return renderer.part("shortcuts.j2", "error_convert_public")


# ---- commands: note and action -------------------------------------------------------------------
def note_usage(renderer: Renderer) -> str:
    return renderer.part("timeline.j2", "note_usage")


def action_usage(renderer: Renderer) -> str:
    return renderer.part("timeline.j2", "action_usage")
