"""What people see of an incident, independent of how it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from irbot.domain.status import Status
from irbot.domain.types import incident_type

REF_PREFIX = "INC-"


def incident_ref(number: int) -> str:
    return f"{REF_PREFIX}{number}"


def parse_ref(text: str) -> int | None:
    """``INC-42``, ``inc-42`` or ``42`` → 42."""
    word = text.strip().upper()
    if word.startswith(REF_PREFIX):
        word = word[len(REF_PREFIX):]
    return int(word) if word.isdigit() else None


@dataclass(frozen=True)
class IncidentFacts:
    """The fields templates use; built from the stored incident by the services."""

    id: int
    number: int
    title: str
    severity: str
    type: str
    status: str
    private: bool
    drill: bool
    summary: str
    services: str
    affected_users: str
    declarer_id: str | None
    channel_id: str | None
    declared_at: datetime
    resolved_at: datetime | None
    origin_permalink: str | None = None  # declared from this message

    @property
    def ref(self) -> str:
        return incident_ref(self.number)

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def type_label(self) -> str:
        found = incident_type(self.type)
        return found.label if found else self.type

    @property
    def is_open(self) -> bool:
        return Status(self.status).is_open
