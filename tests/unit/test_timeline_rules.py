"""Timeline assembly, Markdown conversion and gaps: pure functions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from irbot.domain.markdown import escape_markdown, markdown_link, mrkdwn_to_markdown
from irbot.domain.timeline import Record, build_log, response_metrics, uncovered

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
NAMES = {"U1": "alice", "U2": "bob"}


def convert(text: str) -> str:
    return mrkdwn_to_markdown(text, person=NAMES.get, channel={"C1": "general"}.get)


def test_mrkdwn_becomes_markdown_with_names() -> None:
    assert convert("<@U1> see <#C1> and <https://x.io/a?b=1|the graph>") == "@alice see #general and [the graph](https://x.io/a?b=1)"
    assert convert("*bold* _it_ ~gone~ a*b*c") == "**bold** *it* ~~gone~~ a\\*b\\*c", "a*b*c would be emphasis"
    assert convert("&lt;!channel&gt; &amp; <!here>") == "&lt;!channel&gt; &amp; @here", "Slack's &lt; stays an entity"
    assert convert("<@U9>") == "@someone"
    assert convert("<https://plain.example>") == "<https://plain.example>"
    assert convert("<!subteam^S1|@oncall>") == "@oncall"


def test_user_text_in_mrkdwn_forms_no_markup() -> None:
    assert convert("&lt;script&gt;x&lt;/script&gt;") == "&lt;script&gt;x&lt;/script&gt;"
    assert convert("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;", "typed in a form"
    assert convert("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert convert("<javascript:alert(1)|click> <mailto:a@b.io|a@b.io>") == "click a@b.io", "only http(s) links"
    assert convert("<https://x.io/a b(c)|the [graph]>") == "[the \\[graph\\]](https://x.io/a%20b%28c%29)"
    assert convert("see\n## Root cause\n- item\n1. one\n---") == "see\n\\## Root cause\n\\- item\n1\\. one\n\\---"
    assert convert("a|b *<@U1>* snake_case _it_ `code` (fine.)") == "a\\|b **@alice** snake_case *it* \\`code\\` (fine.)"
    assert convert("<@U1|x> \ue002bold\ue002") == "@alice bold", "irbot's own placeholders cannot be forged"


def test_escaping_for_one_line_and_paragraphs() -> None:
    assert escape_markdown("a|b\n## Root cause\r\n<b>") == "a\\|b ## Root cause &lt;b&gt;"
    assert escape_markdown("first\r\n# second\n  > third", one_line=False) == "first\n\\# second\n  &gt; third"
    assert escape_markdown("1) one & two ~~x~~") == "1\\) one &amp; two \\~\\~x\\~\\~"
    assert markdown_link("the file", "https://x.io/f") == "[the file](https://x.io/f)"
    assert markdown_link("the file", " JavaScript:alert(1)") == "the file"
    assert markdown_link("", "data:text/html,x") == "data:text/html,x"


# Raw HTML, a link or image, a heading, a list, a table cell: what user text must never start.
_MARKUP = re.compile(r"<|(?<!\\)\[|(?<!\\)\||^\s*(#|-|\+|=|\d+[.)])", re.MULTILINE)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab1 .#-+=|[]()<>&*_~`\\!:/\n\r\t\ue000\ue001\ue002"), max_size=40))
def test_no_text_escapes_into_markup(text: str) -> None:
    assert not _MARKUP.search(escape_markdown(text))
    assert not _MARKUP.search(escape_markdown(text, one_line=False))
    converted = convert(text)
    # Links irbot makes ([…](https://…), <https://…>) are the only brackets left unescaped.
    bare = re.sub(r"<https?://[^\s<>]+>|\[[^\]]*\]\(https?://[^\s()]*\)", "", converted)
    assert not _MARKUP.search(bare), converted


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


def test_only_slacks_own_response_urls_are_answered() -> None:
    from irbot.domain.text import is_slack_response_url
    api = "https://slack.com/api/"
    assert is_slack_response_url("https://hooks.slack.com/actions/T1/2/abc", api)
    assert not is_slack_response_url("http://hooks.slack.com/actions/T1/2/abc", api), "https only"
    assert not is_slack_response_url("https://attacker.example/collect", api)
    assert not is_slack_response_url("https://hooks.slack.com.attacker.example/x", api)
    assert not is_slack_response_url(None, api) and not is_slack_response_url("http://[::1", api)
    fake = "http://127.0.0.1:5000/api/"
    assert is_slack_response_url("http://127.0.0.1:5000/response/7", fake), "a fake Slack answers on its own host"
    assert not is_slack_response_url("http://127.0.0.1:6000/response/7", fake)
