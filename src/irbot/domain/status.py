"""The incident status machine: investigating → mitigating → monitoring → resolved → closed.

Forward to any later status; back from mitigating or monitoring to an earlier one; a resolved
incident is reopened (investigating) or closed, and only a resolved one can be closed; closed is final.
"""

from __future__ import annotations

from enum import StrEnum

from irbot.domain.refusals import Refused


class Status(StrEnum):
    INVESTIGATING = "investigating"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def order(self) -> int:
        return list(Status).index(self)

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.CLOSED)

    @property
    def label(self) -> str:
        return self.value.capitalize()


class TransitionError(Refused, ValueError):
    """A status change that the rules forbid; its reason is a macro of status.j2."""


def parse_status(text: str) -> Status | None:
    word = text.strip().lower()
    for status in Status:
        if status.value == word or (len(word) >= 3 and status.value.startswith(word)):
            return status
    return None


def check_transition(current: Status, new: Status) -> None:
    """Raise TransitionError with a reason people can act on, or return when allowed."""
    if new == current:
        raise TransitionError("already", status=current.label)
    if current == Status.CLOSED:
        raise TransitionError("closed_is_final")
    if new == Status.CLOSED and current != Status.RESOLVED:
        raise TransitionError("resolve_before_closing")
    if current == Status.RESOLVED:
        if new in (Status.INVESTIGATING, Status.CLOSED):
            return
        raise TransitionError("reopen_or_close")
    if new.order < current.order and current not in (Status.MITIGATING, Status.MONITORING):
        raise TransitionError("no_going_back", current=current.label, new=new.label)
