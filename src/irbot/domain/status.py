"""The incident status machine: investigating → mitigating → monitoring → resolved → closed.

Forward to any later status; back from mitigating or monitoring to an earlier one; a resolved
incident is reopened (investigating) or closed, and only a resolved one can be closed; closed is final.
"""

from __future__ import annotations

from enum import StrEnum


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


class TransitionError(ValueError):
    """A status change that the rules forbid; the message is shown to the person."""


def parse_status(text: str) -> Status | None:
    word = text.strip().lower()
    for status in Status:
        if status.value == word or (len(word) >= 3 and status.value.startswith(word)):
            return status
    return None


def check_transition(current: Status, new: Status) -> None:
    """Raise TransitionError with a reason people can act on, or return when allowed."""
    if new == current:
        raise TransitionError(f"The incident is already *{current.label}*.")
    if current == Status.CLOSED:
        raise TransitionError("The incident is closed; closed is final.")
    if new == Status.CLOSED and current != Status.RESOLVED:
        raise TransitionError("Only a resolved incident can be closed: resolve it first.")
    if current == Status.RESOLVED:
        if new in (Status.INVESTIGATING, Status.CLOSED):
            return
        raise TransitionError("A resolved incident can only be reopened (`investigating`) or closed.")
    if new.order < current.order and current not in (Status.MITIGATING, Status.MONITORING):
        raise TransitionError(f"Cannot go back from *{current.label}* to *{new.label}*.")
