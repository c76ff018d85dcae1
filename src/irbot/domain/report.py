"""The incident report: response times per severity and type, action items, recurring incidents.

Pure: the rows come from :mod:`irbot.services.report` (one SQL query, one row per incident) and
leave as a :class:`Report` that templates and :func:`write_csv` turn into documents.

Each incident contributes the durations it has reached: time to detect (impact start →
declared, only when the impact start was given), to acknowledge (declared → first Incident
Commander or first page acknowledged in PagerDuty), to mitigate (declared → first "mitigating") and to
resolve (declared → resolved).
Means and medians skip incidents that never reached the moment; ``n`` says how many did.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Sequence, TextIO
from zoneinfo import ZoneInfo

from irbot.domain.incident import incident_ref

MEASURES: tuple[str, ...] = ("detect", "acknowledge", "mitigate", "resolve")
MEASURE_LABELS = {"detect": "Time to detect", "acknowledge": "Time to acknowledge",
                  "mitigate": "Time to mitigate", "resolve": "Time to resolve"}
ALL = "all"


class ReportInputError(ValueError):
    """A period people typed that cannot be used; the message is one line for them."""


@dataclass(frozen=True)
class Period:
    """Incidents declared in [since, until); ``since`` None means from the first one."""

    since: datetime | None
    until: datetime
    timezone: str = "UTC"

    @property
    def first_day(self) -> date | None:
        return self.since.astimezone(ZoneInfo(self.timezone)).date() if self.since else None

    @property
    def last_day(self) -> date:
        """The last calendar day (in the period's time zone) the period reaches into."""
        return (self.until - timedelta(microseconds=1)).astimezone(ZoneInfo(self.timezone)).date()


def parse_day(text: str, tz: str, *, option: str) -> datetime:
    """``2026-01-31`` → midnight at the start of that day in ``tz``, as an aware UTC datetime."""
    try:
        day = date.fromisoformat(text.strip())
        if len(text.strip()) != 10:
            raise ValueError(text)
    except ValueError:
        raise ReportInputError(f"{option} {text!r} is not a date like 2026-01-31") from None
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(timezone.utc)


def parse_period(since: str | None, until: str | None, *, tz: str, now: datetime) -> Period:
    start = parse_day(since, tz, option="since") if since else None
    end = parse_day(until, tz, option="until") if until else now
    if start is not None and start >= end:
        raise ReportInputError(f"since ({since}) must be before until ({until or 'now'})")
    return Period(since=start, until=end, timezone=tz)


def parse_report_words(words: Sequence[str]) -> tuple[str | None, str | None]:
    """``since 2026-01-01 until 2026-02-01`` (either part optional) → the two date texts."""
    found: dict[str, str] = {}
    rest = [w.lower().lstrip("-") for w in words]
    while rest:
        word = rest.pop(0)
        if word not in ("since", "until"):
            raise ReportInputError(f"I don't understand {word!r}")
        if not rest:
            raise ReportInputError(f"{word} needs a date like 2026-01-31")
        found[word] = rest.pop(0)
    return found.get("since"), found.get("until")


@dataclass(frozen=True)
class IncidentRow:
    """One non-drill incident and its durations in seconds (None: never reached, or not recorded)."""

    number: int
    title: str
    severity: str
    type: str
    private: bool
    services: str
    declared_at: datetime
    detect: float | None = None
    acknowledge: float | None = None
    mitigate: float | None = None
    resolve: float | None = None
    actions_due: int = 0
    actions_completed: int = 0

    @property
    def ref(self) -> str:
        return incident_ref(self.number)

    def duration(self, measure: str) -> float | None:
        return getattr(self, measure)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds; None when either is missing or the order is impossible
    (an impact start typed after the declaration is a typo, not a negative detection time)."""
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


@dataclass(frozen=True)
class Stat:
    n: int
    mean: float | None
    median: float | None

    @property
    def mean_delta(self) -> timedelta | None:
        return None if self.mean is None else timedelta(seconds=self.mean)

    @property
    def median_delta(self) -> timedelta | None:
        return None if self.median is None else timedelta(seconds=self.median)


def summarise(values: Iterable[float | None]) -> Stat:
    present = [v for v in values if v is not None]
    if not present:
        return Stat(0, None, None)
    return Stat(len(present), statistics.fmean(present), float(statistics.median(present)))


@dataclass(frozen=True)
class Group:
    by: str  # "severity", "type" or "all"
    key: str
    label: str
    count: int
    stats: dict[str, Stat]
    actions_due: int
    actions_completed: int
    recurring: int  # incidents of this group that belong to a recurring set


def service_names(text: str) -> set[str]:
    """``"Checkout, payments-API ,"`` → ``{"checkout", "payments-api"}``."""
    return {name.strip().lower() for name in text.split(",") if name.strip()}


@dataclass(frozen=True)
class RecurringSet:
    """Incidents of the same type that touched the same service within the period."""

    type: str
    service: str
    incidents: tuple[IncidentRow, ...]

    @property
    def all_private(self) -> bool:
        return all(row.private for row in self.incidents)

    @property
    def named(self) -> list[IncidentRow]:
        return [row for row in self.incidents if not row.private]

    @property
    def private_count(self) -> int:
        return sum(1 for row in self.incidents if row.private)


def recurring_sets(rows: Iterable[IncidentRow]) -> list[RecurringSet]:
    """Every (type, service) shared by two or more incidents, oldest incident first."""
    by_key: dict[tuple[str, str], list[IncidentRow]] = {}
    for row in rows:
        for service in service_names(row.services):
            by_key.setdefault((row.type.strip().lower(), service), []).append(row)
    return [RecurringSet(kind, service, tuple(sorted(found, key=lambda r: r.number)))
            for (kind, service), found in sorted(by_key.items()) if len(found) > 1]


def _group(by: str, key: str, label: str, rows: Sequence[IncidentRow], recurring: set[int]) -> Group:
    return Group(
        by=by, key=key, label=label, count=len(rows),
        stats={m: summarise(row.duration(m) for row in rows) for m in MEASURES},
        actions_due=sum(row.actions_due for row in rows),
        actions_completed=sum(row.actions_completed for row in rows),
        recurring=sum(1 for row in rows if row.number in recurring),
    )


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    """Known keys in the configured order, then unknown ones alphabetically."""
    present = set(keys)
    return [k for k in order if k in present] + sorted(present - set(order))


def group_by(rows: Sequence[IncidentRow], by: str, *, order: Sequence[str] = (),
             labels: dict[str, str] | None = None, recurring: set[int] | None = None) -> list[Group]:
    buckets: dict[str, list[IncidentRow]] = {}
    for row in rows:
        buckets.setdefault(getattr(row, by), []).append(row)
    names = labels or {}
    return [_group(by, key, names.get(key, key), buckets[key], recurring or set())
            for key in _ordered(buckets, order)]


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: datetime
    total: Group
    by_severity: list[Group]
    by_type: list[Group]
    recurring: list[RecurringSet] = field(default_factory=list)
    drills_excluded: int = 0

    @property
    def named_sets(self) -> list[RecurringSet]:
        return [s for s in self.recurring if not s.all_private]

    @property
    def private_only_sets(self) -> int:
        return sum(1 for s in self.recurring if s.all_private)

    @property
    def recurring_incidents(self) -> int:
        return self.total.recurring


def build_report(rows: Sequence[IncidentRow], *, period: Period, generated_at: datetime,
                 severity_order: Sequence[str] = (), type_order: Sequence[str] = (),
                 severity_labels: dict[str, str] | None = None, type_labels: dict[str, str] | None = None,
                 drills_excluded: int = 0) -> Report:
    sets = recurring_sets(rows)
    recurring = {row.number for s in sets for row in s.incidents}
    return Report(
        period=period, generated_at=generated_at,
        total=_group(ALL, ALL, "All incidents", rows, recurring),
        by_severity=group_by(rows, "severity", order=severity_order, labels=severity_labels, recurring=recurring),
        by_type=group_by(rows, "type", order=type_order, labels=type_labels, recurring=recurring),
        recurring=sets, drills_excluded=drills_excluded,
    )


# --- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "group_by", "group", "count",
    *(f"{m}_{s}_seconds" for m in MEASURES for s in ("mean", "median")),
    "actions_due", "actions_completed",
    *(f"{m}_n" for m in MEASURES), "recurring",
)


def _seconds(value: float | None) -> str:
    return "" if value is None else str(round(value))


def csv_row(group: Group) -> list[str]:
    return [group.by, group.key, str(group.count),
            *(_seconds(getattr(group.stats[m], s)) for m in MEASURES for s in ("mean", "median")),
            str(group.actions_due), str(group.actions_completed),
            *(str(group.stats[m].n) for m in MEASURES), str(group.recurring)]


def write_csv(report: Report, out: TextIO) -> None:
    """One row per severity, one per type, then the total; seconds rounded, empty when unknown."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in (*report.by_severity, *report.by_type, report.total):
        writer.writerow(csv_row(group))
