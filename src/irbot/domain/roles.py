"""Incident roles and how a typed role name is recognised."""

from __future__ import annotations

from dataclasses import dataclass

COMMANDER = "commander"
LEGAL = "legal"


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    description: str
    # Only the commander (the declarer while there is none) or an admin may give a restricted role:
    # nobody takes it themselves. Roles that carry powers are restricted.
    restricted: bool = False


# Roles a permission names, besides the commander (whose empty seat anyone in the channel may take,
# which is how responders take command): holding one grants powers, so they are always restricted.
ROLES_WITH_POWERS = frozenset({LEGAL})


DEFAULT_ROLES: tuple[Role, ...] = (
    Role(COMMANDER, "Incident Commander",
         "Coordinates the response and decides, owns communication, authorises escalation."),
    Role("tech_lead", "Technical Lead", "Leads the investigation, implements fixes and workarounds."),
    Role("comms_lead", "Communications Lead", "Writes stakeholder and customer updates and keeps the status page current."),
)

_ALIASES = {"tech": "tech_lead", "comms": "comms_lead", "ic": COMMANDER}


def match_role(text: str, roles: tuple[Role, ...]) -> Role | None:
    """A role key, an alias (``tech``, ``comms``, ``ic``) or a prefix of a role's name."""
    word = text.strip().lower()
    if not word:
        return None
    key = _ALIASES.get(word, word)
    for role in roles:
        if role.key == key:
            return role
    for role in roles:
        name = role.name.lower()
        if name.startswith(word) or name.replace(" ", "_").startswith(word):
            return role
    return None
