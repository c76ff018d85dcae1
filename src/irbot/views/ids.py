"""Every action, block and callback id irbot puts in Slack, in one place (namespaced)."""

from __future__ import annotations

from enum import StrEnum


class Callback(StrEnum):
    DECLARE = "incident.declare"
    UPDATE = "incident.update"
    RESOLVE = "incident.resolve"
    ASSESS = "incident.assess"
    STATUS_PUBLISH = "incident.status.publish"
    ADD_TO_TIMELINE = "incident.add_to_timeline"
    HOME = "incident.home"


class Shortcut(StrEnum):
    """Callback ids of the shortcuts declared in manifest.yml."""
    DECLARE = "incident.shortcut.declare"  # global
    DECLARE_FROM_MESSAGE = "incident.shortcut.declare_from_message"
    ADD_TO_TIMELINE = "incident.shortcut.add_to_timeline"


class Block(StrEnum):
    TITLE = "declare.title"
    SEVERITY = "declare.severity"
    TYPE = "declare.type"
    SUMMARY = "declare.summary"
    SERVICES = "declare.services"
    USERS = "declare.users"
    PRIVATE = "declare.private"
    IMPACT_STARTED = "declare.impact_started"
    REGIMES = "declare.regimes"
    UPDATE_STATUS = "update.status"
    UPDATE_TEXT = "update.text"
    UPDATE_NEXT = "update.next"
    RESOLUTION = "resolve.summary"
    ASSESS_PREFIX = "assess."  # + factor name
    STATUS_TITLE = "status.title"
    STATUS_IMPACT = "status.impact"
    STATUS_COMPONENTS = "status.components"
    STATUS_MESSAGE = "status.message"
    UPDATE_PUBLIC = "update.public"
    UPDATE_PUBLIC_TEXT = "update.public_text"
    RESOLUTION_PUBLIC = "resolve.public_text"
    LINK_INCIDENT = "link.incident"
    LINK_NOTE = "link.note"


class Action(StrEnum):
    INPUT = "input"  # the single element inside each input block
    ROLE_TAKE = "incident.role.take"
    ROLE_ASSIGN = "incident.role.assign"
    UPDATE_OPEN = "incident.update.open"
    SEVERITY_CHANGE = "incident.severity.change"
    ACTION_STATUS = "incident.action.status"
    PLAYBOOK_TICK = "incident.playbook.tick"
    CLOCK_NOTIFIED = "incident.clock.notified"
    ASSESS_APPLY = "incident.assess.apply"
    ASSESS_DECLARE = "incident.assess.declare"
    HOME_DECLARE = "incident.home.declare"
