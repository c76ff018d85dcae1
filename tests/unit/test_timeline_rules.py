"""Timeline assembly, Markdown conversion and gaps: pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from irbot.domain.markdown import mrkdwn_to_markdown
from irbot.domain.timeline import Record, build_log, response_metrics, uncovered

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
NAMES = {"U1": "alice", "U2": "bob"}


def convert(text: str) -> str:
    return mrkdwn_to_markdown(text, person=NAMES.get, channel={"C1": "general"}.get)


def test_mrkdwn_becomes_markdown_with_names() -> None:
    assert convert("<@U1> see <#C1> and <https://x.io/a?b=1|the graph>") == "@alice see #general and [the graph](https://x.io/a?b=1)"
    assert convert("*bold* _it_ ~gone~ a*b*c") == "**bold** *it* ~~gone~~ a*b*c"
    assert convert("&lt;!channel&gt; &amp; <!here>") == "<!channel> & @here"
    assert convert("<@U9>") == "@someone"
    assert convert("<https://plain.example>") == "<https://plain.example>"
    assert convert("<!subteam^S1|@oncall>") == "@oncall"


def record(kind: str, minutes: float, text: str = "", actor: str | None = "U1", **data: object) -> Record:
    return Record(kind=kind, at=T0 + timedelta(minutes=minutes), actor=actor, text=text, data=dict(data))


def ts(minutes: float) -> str:
    return f"{(T0 + timedelta(minutes=minutes)).timestamp():.6f}"


def test_log_threads_edits_and_deletions() -> None:
    records = [
        record("message", 1, "parent", ts=ts(1)),
        record("message", 3, "reply two", ts=ts(3), thread_ts=ts(1)),
        record("message", 2, "reply one", ts=ts(2), thread_ts=ts(1)),
        record("message", 4, "typo", ts=ts(4)),
        record("message_edited", 5, "fixed", ts=ts(4)),
        record("message", 6, "", ts=ts(6)),
        record("message_deleted", 7, "", ts=ts(6)),
        record("message", 1, "parent", ts=ts(1)),  # a repeat changes nothing
    ]
    log = build_log(records)
    assert [e.text for e in log] == ["parent", "fixed", ""]
    assert [r.text for r in log[0].replies] == ["reply one", "reply two"]
    assert log[1].original == "typo" and log[1].edited_at is not None
    assert log[2].deleted_at is not None


def test_metrics_from_events() -> None:
    records = [record("role_changed", 4, role="commander", to="U2"), record("status_changed", 9, to="mitigating"),
               record("status_changed", 30, to="resolved")]
    metrics = response_metrics(records, declared_at=T0, resolved_at=T0 + timedelta(minutes=30), now=T0,
                               impact_started_at=T0 - timedelta(minutes=5))
    assert metrics.time_to_acknowledge == timedelta(minutes=4)
    assert metrics.time_to_mitigate == timedelta(minutes=9)
    assert metrics.time_to_resolve == timedelta(minutes=30)
    assert metrics.time_to_detect == timedelta(minutes=5)


def test_uncovered_finds_only_the_gaps() -> None:
    hour = timedelta(hours=1)
    running = [(T0 - hour, T0 + hour), (T0 + 2 * hour, T0 + 3 * hour)]
    assert uncovered(T0, T0 + 4 * hour, running) == [(T0 + hour, T0 + 2 * hour), (T0 + 3 * hour, T0 + 4 * hour)]
    assert uncovered(T0, T0 + hour, running) == []
    assert uncovered(T0, T0 + hour, []) == [(T0, T0 + hour)]
