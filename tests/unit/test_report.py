"""The incident report's pure parts: periods, statistics, recurring incidents, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from irbot.domain.report import (
    CSV_COLUMNS, IncidentRow, Period, ReportInputError, build_report, parse_period, parse_report_words,
    recurring_sets, seconds_between, service_names, summarise, write_csv,
)
from irbot.views.render import Renderer
from irbot.views.messages.report import document

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


def row(number: int, severity: str = "SEV-2", kind: str = "outage", services: str = "", *, private: bool = False,
        **durations: float | None) -> IncidentRow:
    return IncidentRow(number=number, title=f"Incident {number}", severity=severity, type=kind, private=private,
                       services=services, declared_at=T0 + timedelta(days=number), **durations)  # type: ignore[arg-type]


def test_mean_and_median_skip_missing_values() -> None:
    stat = summarise([60.0, None, 180.0, 600.0, None])
    assert (stat.n, stat.mean, stat.median) == (3, 280.0, 180.0)
    assert stat.median_delta == timedelta(minutes=3)
    assert summarise([None, None]) == summarise([])
    assert summarise([]).n == 0 and summarise([]).mean is None and summarise([]).mean_delta is None
    assert summarise([10.0, 20.0]).median == 15.0  # an even count takes the middle of the two


def test_seconds_between_refuses_impossible_orders() -> None:
    assert seconds_between(T0, T0 + timedelta(minutes=5)) == 300.0
    assert seconds_between(None, T0) is None and seconds_between(T0, None) is None
    assert seconds_between(T0 + timedelta(hours=1), T0) is None, "an impact start after the declaration is a typo"


def test_services_are_normalised() -> None:
    assert service_names(" Checkout, payments-API ,, checkout ") == {"checkout", "payments-api"}
    assert service_names("") == set()


def test_recurring_means_same_type_and_a_shared_service() -> None:
    rows = [row(1, kind="outage", services="Checkout, payments"), row(2, kind="outage", services="checkout"),
            row(3, kind="performance", services="checkout"), row(4, kind="Outage", services="PAYMENTS "),
            row(5, kind="outage", services="search"), row(6, kind="outage")]
    sets = {(s.type, s.service): [r.number for r in s.incidents] for s in recurring_sets(rows)}
    assert sets == {("outage", "checkout"): [1, 2], ("outage", "payments"): [1, 4]}


def test_groups_follow_the_configured_order_and_sum_action_items() -> None:
    rows = [row(1, "SEV-3", acknowledge=60, actions_due=2, actions_completed=1),
            row(2, "SEV-1", acknowledge=600, resolve=3600, actions_due=1, actions_completed=1),
            row(3, "SEV-3", acknowledge=None, resolve=7200), row(4, "custom")]
    period = Period(since=None, until=NOW)
    report = build_report(rows, period=period, generated_at=NOW, severity_order=["SEV-1", "SEV-2", "SEV-3"])
    assert [g.key for g in report.by_severity] == ["SEV-1", "SEV-3", "custom"]
    sev3 = report.by_severity[1]
    assert sev3.count == 2 and sev3.stats["acknowledge"].n == 1 and sev3.stats["resolve"].median == 7200
    assert (sev3.actions_due, sev3.actions_completed) == (2, 1)
    assert (report.total.count, report.total.actions_due, report.total.actions_completed) == (4, 3, 2)
    assert report.total.stats["acknowledge"].mean == 330.0


def test_csv_has_one_row_per_group_and_the_total() -> None:
    rows = [row(1, "SEV-1", "outage", "api", detect=600, acknowledge=90, mitigate=1200, resolve=3600,
                actions_due=2, actions_completed=1),
            row(2, "SEV-2", "security", "api", private=True, acknowledge=30),
            row(3, "SEV-2", "outage", "api", acknowledge=210.4)]
    report = build_report(rows, period=Period(None, NOW), generated_at=NOW,
                          severity_order=["SEV-1", "SEV-2"], type_order=["outage", "security"])
    out = io.StringIO()
    write_csv(report, out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(out.getvalue().splitlines()[0].split(",")) == CSV_COLUMNS
    assert CSV_COLUMNS[:3] == ("group_by", "group", "count")
    assert CSV_COLUMNS[3:13] == ("detect_mean_seconds", "detect_median_seconds", "acknowledge_mean_seconds",
                                 "acknowledge_median_seconds", "mitigate_mean_seconds", "mitigate_median_seconds",
                                 "resolve_mean_seconds", "resolve_median_seconds", "actions_due",
                                 "actions_completed")
    assert [(r["group_by"], r["group"], r["count"]) for r in table] == [
        ("severity", "SEV-1", "1"), ("severity", "SEV-2", "2"), ("type", "outage", "2"), ("type", "security", "1"),
        ("all", "all", "3")]
    sev2 = table[1]
    assert sev2["acknowledge_mean_seconds"] == "120" and sev2["acknowledge_median_seconds"] == "120"
    assert sev2["detect_mean_seconds"] == "" and sev2["detect_n"] == "0", "unknown stays empty, not zero"
    outage = table[2]
    assert (outage["actions_due"], outage["actions_completed"], outage["recurring"]) == ("2", "1", "2")
    assert table[4]["resolve_median_seconds"] == "3600" and table[4]["acknowledge_n"] == "3"


def test_markdown_counts_private_incidents_but_never_names_them() -> None:
    rows = [row(1, kind="outage", services="checkout", acknowledge=300),
            row(2, kind="outage", services="checkout", private=True),
            row(3, kind="security", services="vault", private=True),
            row(4, kind="security", services="vault", private=True)]
    rows[1] = IncidentRow(**{**rows[1].__dict__, "title": "Secret breach"})
    report = build_report(rows, period=Period(T0, NOW), generated_at=NOW, drills_excluded=2)
    text = document(Renderer(), report)
    assert "INC-1 Incident 1; a private incident" in text
    assert "Secret breach" not in text and "INC-2" not in text and "vault" not in text
    assert "1 more set of recurring private incidents" in text
    assert "| **All** | 4 |" in text and "(2 drills left out)" in text
    assert "5m / 5m (1)" in text


def test_period_from_typed_dates() -> None:
    period = parse_period("2026-01-01", "2026-02-01", tz="UTC", now=NOW)
    assert period.since == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert period.last_day == date(2026, 1, 31), "until is exclusive"
    assert parse_period(None, None, tz="UTC", now=NOW) == Period(None, NOW, "UTC")
    assert parse_period(None, None, tz="UTC", now=NOW).last_day == date(2026, 4, 1)
    paris = parse_period("2026-01-01", None, tz="Europe/Paris", now=NOW)
    assert paris.since == datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc)
    assert paris.first_day == date(2026, 1, 1)
    with pytest.raises(ReportInputError, match="since '2026-13-01' is not a date"):
        parse_period("2026-13-01", None, tz="UTC", now=NOW)
    with pytest.raises(ReportInputError, match="must be before"):
        parse_period("2026-02-01", "2026-01-01", tz="UTC", now=NOW)
    with pytest.raises(ReportInputError):
        parse_period("yesterday", None, tz="UTC", now=NOW)


def test_words_after_report() -> None:
    assert parse_report_words([]) == (None, None)
    assert parse_report_words(["since", "2026-01-01"]) == ("2026-01-01", None)
    assert parse_report_words(["until", "2026-02-01", "SINCE", "2026-01-01"]) == ("2026-01-01", "2026-02-01")
    with pytest.raises(ReportInputError, match="needs a date"):
        parse_report_words(["since"])
    with pytest.raises(ReportInputError, match="don't understand"):
        parse_report_words(["weekly"])
