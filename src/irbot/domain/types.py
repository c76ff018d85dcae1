"""Incident types; security and data incidents always get a private channel, whatever the form says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncidentType:
    key: str
    label: str
    always_private: bool = False


INCIDENT_TYPES: tuple[IncidentType, ...] = (
    IncidentType("outage", "Outage"),
    IncidentType("performance", "Performance"),
    IncidentType("security", "Security", always_private=True),
    IncidentType("data", "Data", always_private=True),
    IncidentType("third-party", "Third-party"),
    IncidentType("operational", "Operational"),
)


def incident_type(key: str) -> IncidentType | None:
    word = key.strip().lower()
    return next((t for t in INCIDENT_TYPES if t.key == word), None)


def is_private(type_key: str, ticked_private: bool) -> bool:
    found = incident_type(type_key)
    return ticked_private or bool(found and found.always_private)
