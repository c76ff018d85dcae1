"""Parsing what people type after ``/incident``."""

from __future__ import annotations

import re
from dataclasses import dataclass

ALIASES = {"new": "declare", "start": "declare", "?": "help"}
# Subcommands that only answer the person (nothing stored, nothing posted): a repeat of one is
# harmless, so it is not claimed, and a burst of them writes nothing before its acks.
ANSWER_ONLY = frozenset({"", "help", "list", "roles", "timeline"})
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Command:
    verb: str  # lowercased, aliases resolved; "" when nothing was typed
    rest: str  # the text after the verb, as typed

    @property
    def words(self) -> list[str]:
        return self.rest.split()


def parse_command(text: str) -> Command:
    stripped = (text or "").strip()
    if not stripped:
        return Command("", "")
    verb, _, rest = stripped.partition(" ")
    verb = verb.lower()
    return Command(ALIASES.get(verb, verb), rest.strip())


def only_answers(text: str) -> bool:
    return parse_command(text).verb in ANSWER_ONLY


def mentioned_users(text: str) -> list[str]:
    """User ids from Slack's escaped mentions (``<@U123|alice>``) in command text."""
    return _USER_MENTION.findall(text)
