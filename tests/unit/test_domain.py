"""Pure rules: no Slack, no database."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from irbot.domain.commands import mentioned_users, parse_command
from irbot.domain.declare import DeclareForm, form_problems, normalise_users
from irbot.domain.durations import DurationError, add_business_days, humanize, parse_duration
from irbot.domain.incident import parse_ref
from irbot.domain.naming import MAX_CHANNEL_NAME, channel_name, slugify, with_suffix
from irbot.domain.roles import DEFAULT_ROLES, match_role
from irbot.domain.severities import DEFAULT_SEVERITIES, match_severity
from irbot.domain.status import Status, TransitionError, check_transition, parse_status
from irbot.domain.text import escape_mrkdwn
from irbot.domain.types import is_private

SLACK_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("title, expected", [
    ("Checkout API returning 502s", "inc-7-checkout-api-returning-502s"),
    ("<!channel> {{ 7*7 }} *bold*", "inc-7-channel-7-7-bold"),
    ("🔥🔥🔥", "inc-7"),
    ("Café crème – Zürich", "inc-7-cafe-creme-zurich"),
])
def test_channel_name_follows_slack_rules(title: str, expected: str) -> None:
    assert channel_name("inc", 7, title) == expected


def test_long_titles_fit_in_80_characters_with_room_for_a_suffix() -> None:
    name = channel_name("inc", 12345, "word " * 60 + "🚀 <!here>")
    assert len(name) <= MAX_CHANNEL_NAME - 4
    assert set(name) <= SLACK_NAME_CHARS
    assert not name.endswith("-")
    suffixed = with_suffix(name, 17)
    assert suffixed.endswith("-17") and len(suffixed) <= MAX_CHANNEL_NAME
    assert with_suffix(name, 1) == name


def test_slugify_drops_everything_slack_refuses() -> None:
    assert slugify("  A/B::C  ") == "a-b-c"


def test_escape_mrkdwn_defuses_mentions_and_links() -> None:
    escaped = escape_mrkdwn("<!channel> <@U123> <https://x|y> & @here")
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;!channel&gt;" in escaped and "&amp;" in escaped
    assert "@here" not in escaped


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("4h", 14400), ("5d", 432000)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).calendar().total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "5 weeks", "-3m", "0s", "1.5h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
    assert add_business_days(friday, 1) == datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
    assert parse_duration("5bd").after(friday) == datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)


def test_humanize() -> None:
    assert humanize(parse_duration("90m").calendar()) == "1h 30m"
    assert humanize(parse_duration("2d").calendar()) == "2d"


@pytest.mark.parametrize("typed, key", [("1", "SEV-1"), ("sev1", "SEV-1"), ("SEV-2", "SEV-2"),
                                        ("sev-3", "SEV-3"), ("low", "SEV-4"), ("Critical", "SEV-1")])
def test_match_severity(typed: str, key: str) -> None:
    found = match_severity(typed, DEFAULT_SEVERITIES)
    assert found is not None and found.key == key


@pytest.mark.parametrize("typed", ["5", "sev5", "", "urgent"])
def test_unknown_severity(typed: str) -> None:
    assert match_severity(typed, DEFAULT_SEVERITIES) is None


@pytest.mark.parametrize("typed, key", [("commander", "commander"), ("IC", "commander"), ("tech", "tech_lead"),
                                        ("comms", "comms_lead"), ("Technical", "tech_lead"),
                                        ("incident", "commander"), ("COMMS_LEAD", "comms_lead")])
def test_match_role(typed: str, key: str) -> None:
    role = match_role(typed, DEFAULT_ROLES)
    assert role is not None and role.key == key


def test_status_transitions() -> None:
    check_transition(Status.INVESTIGATING, Status.MONITORING)
    check_transition(Status.MONITORING, Status.INVESTIGATING)
    check_transition(Status.RESOLVED, Status.INVESTIGATING)
    check_transition(Status.RESOLVED, Status.CLOSED)
    for current, new in [(Status.CLOSED, Status.INVESTIGATING), (Status.MITIGATING, Status.CLOSED),
                         (Status.RESOLVED, Status.MONITORING), (Status.INVESTIGATING, Status.INVESTIGATING)]:
        with pytest.raises(TransitionError):
            check_transition(current, new)
    assert parse_status("MITIGATING") == Status.MITIGATING
    assert parse_status("mon") == Status.MONITORING
    assert parse_status("fixed") is None


def test_private_types() -> None:
    assert is_private("security", False) and is_private("data", False)
    assert is_private("outage", True) and not is_private("outage", False)


def test_commands_parse_aliases_and_mentions() -> None:
    assert parse_command("  NEW  Checkout down ").verb == "declare"
    assert parse_command("start x").rest == "x"
    assert parse_command("").verb == ""
    assert mentioned_users("commander <@U0ALICE|alice> and <@W0BOB>") == ["U0ALICE", "W0BOB"]
    assert parse_ref("inc-42") == 42 and parse_ref("INC-x") is None


def test_declare_form_problems() -> None:
    good = DeclareForm(title="x", severity="SEV-1", type="outage", affected_users="1,200")
    assert form_problems(good, severities={"SEV-1"}, types={"outage"}) == {}
    bad = DeclareForm(title=" ", severity="SEV-9", type="?", affected_users="lots")
    assert set(form_problems(bad, severities={"SEV-1"}, types={"outage"})) == {
        "title", "severity", "type", "affected_users"}
    assert normalise_users("1200") == "1,200"
