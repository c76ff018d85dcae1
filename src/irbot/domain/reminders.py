"""When reminders are due and whether one still applies. Pure: times in, times out."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from irbot.domain.durations import Duration
from irbot.domain.status import Status

REVIEW_WITHIN = timedelta(hours=48)
REVIEW_NUDGE_AFTER = timedelta(hours=24)


class ReminderKind(StrEnum):
    UPDATE_DUE = "update_due"  # no update within the severity's cadence
    RESPONSE_TARGET = "response_target"  # no commander within respond_within
    REVIEW = "review"  # lessons-learned review within 48 h of resolution
    POSTMORTEM_DUE = "postmortem_due"  # post-mortem due after resolution
    STAKEHOLDER_SUMMARY = "stakeholder_summary"  # a short summary for stakeholders, every stakeholder_every


def next_update_due(last_update: datetime, cadence: Duration, tz: str, *, now: datetime,
                    requested: datetime | None = None) -> datetime:
    """The next update is due one cadence after the last one, or when the poster promised it.

    Never in the past: a reminder that would already be due fires now, once.
    """
    due = requested if requested is not None else cadence.after(last_update, tz)
    return max(due, now)


def still_applies(kind: ReminderKind, status: Status, *, has_commander: bool) -> bool:
    """A reminder whose reason has gone away is dropped when it fires."""
    if kind in (ReminderKind.UPDATE_DUE, ReminderKind.RESPONSE_TARGET, ReminderKind.STAKEHOLDER_SUMMARY):
        if not status.is_open:
            return False
        return not (kind == ReminderKind.RESPONSE_TARGET and has_commander)
    if kind == ReminderKind.REVIEW:
        return status == Status.RESOLVED
    return status == Status.RESOLVED  # post-mortem due stops when the incident is closed


def repeats(kind: ReminderKind) -> bool:
    """Update reminders and stakeholder summaries come back every cadence; the others come once."""
    return kind in (ReminderKind.UPDATE_DUE, ReminderKind.STAKEHOLDER_SUMMARY)
