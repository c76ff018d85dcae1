"""Who may change what. Pure: callers pass what they know.

Admins may do anything. The commander (the declarer while there is none) changes severity and
status and hands out roles; anyone may take an empty role, and a holder may hand their own on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actors:
    """The people whose word counts on one incident, as stored now."""

    actor: str
    declarer: str | None
    commander: str | None
    admins: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.actor in self.admins

    @property
    def acts_as_commander(self) -> bool:
        """The commander, the declarer while there is none, or an admin."""
        if self.is_admin or (self.commander is not None and self.actor == self.commander):
            return True
        return self.commander is None and self.declarer is not None and self.actor == self.declarer


@dataclass(frozen=True)
class Refusal:
    reason: str  # a template macro in roles.j2
    holder: str | None = None


def may_change_role(actors: Actors, *, holder: str | None, target: str) -> Refusal | None:
    """None when allowed; otherwise why not (the person is told who can)."""
    if actors.is_admin or (actors.commander is not None and actors.actor == actors.commander):
        return None
    taking = target == actors.actor
    if taking and holder is None:
        return None  # anyone may take an empty role
    if holder is not None and holder == actors.actor:
        return None  # a holder may hand their own role to someone
    if actors.commander is None and actors.declarer == actors.actor:
        return None  # the declarer runs things until a commander is named
    if taking:
        return Refusal("refuse_take_held", holder=holder)
    return Refusal("refuse_assign", holder=holder)


def may_command(actors: Actors) -> bool:
    """Severity, status, resolve: the commander (the declarer while there is none) or an admin."""
    return actors.acts_as_commander
