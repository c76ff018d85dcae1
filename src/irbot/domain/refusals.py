"""A change the rules do not allow, said as a reason and the facts behind it.

The rules (and the services that apply them) never word a refusal: ``views/answers.py`` turns the
reason into what the person is told, from the templates."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(self, reason: str, **facts: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


class NotAllowed(Refused):
    """The person may not do this (change severity or status, resolve); the facts say who can."""


class ClockRefused(Refused):
    """A regulatory clock or legal hold change that is not allowed, or has nothing to do."""
