"""Severity levels and how a typed level is recognised."""

from __future__ import annotations

from dataclasses import dataclass

from irbot.domain.durations import Duration, parse_duration


@dataclass(frozen=True)
class Severity:
    key: str  # "SEV-1"
    label: str  # "Critical"
    description: str
    update_every: Duration
    respond_within: Duration
    stakeholder_every: Duration

    @property
    def rank(self) -> int:
        """1 is the most severe; keys that are not ``SEV-n`` sort last."""
        digits = "".join(ch for ch in self.key if ch.isdigit())
        return int(digits) if digits else 99

    @property
    def option_text(self) -> str:
        return f"{self.key} · {self.label}"


DEFAULT_SEVERITIES: tuple[Severity, ...] = (
    Severity("SEV-1", "Critical", "Complete outage, data breach or security compromise, revenue impact, >1000 users",
             parse_duration("30m"), parse_duration("15m"), parse_duration("1h")),
    Severity("SEV-2", "High", "Partial degradation, significant performance or customer impact, 100–1000 users",
             parse_duration("60m"), parse_duration("1h"), parse_duration("1d")),
    Severity("SEV-3", "Medium", "Minor functionality issues, workaround exists, <100 users",
             parse_duration("4h"), parse_duration("4h"), parse_duration("1d")),
    Severity("SEV-4", "Low", "Cosmetic, documentation or internal issue",
             parse_duration("1d"), parse_duration("1bd"), parse_duration("1d")),
)


def match_severity(text: str, severities: tuple[Severity, ...]) -> Severity | None:
    """``1``, ``sev1``, ``SEV-1``, ``sev 1`` or a label (``critical``) → the severity."""
    word = text.strip().lower().replace(" ", "").replace("_", "-")
    for severity in severities:
        key = severity.key.lower()
        compact = key.replace("-", "")
        if word in (key, compact, severity.label.lower()) or (word.isdigit() and compact == f"sev{word}"):
            return severity
    return None


def is_upgrade(old: Severity, new: Severity) -> bool:
    return new.rank < old.rank
