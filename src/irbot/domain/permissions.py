"""Who may change what. Pure: callers pass what they know.

Admins may do anything. The commander (the declarer while there is none) changes severity and
status and hands out roles; anyone may take an empty role, and a holder may hand their own on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from irbot.domain.roles import Role


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

    @property
    def in_charge(self) -> str | None:
        """Who runs the incident now: the commander, else the declarer (None for an alert's incident)."""
        return self.commander or self.declarer


@dataclass(frozen=True)
class Refusal:
    reason: str  # a template macro in roles.j2
    holder: str | None = None


def may_change_role(actors: Actors, role: Role, *, holder: str | None, target: str) -> Refusal | None:
    """None when allowed; otherwise why not (the person is told who can)."""
    if actors.acts_as_commander:
        return None  # the commander (the declarer while there is none) or an admin gives any role
    if role.restricted:
        return Refusal("refuse_restricted", holder=holder)  # nobody takes or hands on a role with powers
    taking = target == actors.actor
    if taking and holder is None:
        return None  # anyone may take an empty role
    if holder is not None and holder == actors.actor:
        return None  # a holder may hand their own role to someone
    if taking:
        return Refusal("refuse_take_held", holder=holder)
    return Refusal("refuse_assign", holder=holder)


def may_command(actors: Actors) -> bool:
    """Severity, status, resolve: the commander (the declarer while there is none) or an admin."""
    return actors.acts_as_commander


def may_keep_clocks(actors: Actors, *, legal_holder: str | None, legal_too: bool) -> bool:
    """Starting clocks: as :func:`may_command`. Marking notified and legal hold (``legal_too``):
    also the Legal role holder, who was given the role by the commander or an admin."""
    if actors.acts_as_commander:
        return True
    return legal_too and legal_holder is not None and actors.actor == legal_holder


def vouched_for(actor: str, *, admins: frozenset[str], holders: Collection[str]) -> bool:
    """Admins may act on any incident; role holders are members (irbot invites every holder)."""
    return actor in admins or actor in holders


def may_enter(*, private: bool, vouched: bool, in_channel: bool) -> Refusal | None:
    """A private incident shows and changes nothing for someone outside its channel, whatever
    channel or form a request names."""
    if not private or vouched or in_channel:
        return None
    return Refusal("refuse_not_member")
