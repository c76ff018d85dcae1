"""The tracker door's pure parts: markers, ADF, and how refusals are classified."""

from __future__ import annotations

from irbot.outbound.tracker import Link, NewIssue, _adf, _markdown, _refusal, adf_text, has_marker


def test_a_marker_is_not_the_start_of_a_longer_one() -> None:
    assert has_marker("body\n<!-- irbot:INC-1#1 -->", "irbot:INC-1#1")
    assert not has_marker("body\n<!-- irbot:INC-1#12 -->", "irbot:INC-1#1")
    assert not has_marker("irbot:INC-12#1", "irbot:INC-1#1")


def test_bodies_carry_the_marker_and_links() -> None:
    issue = NewIssue(title="t", body=((Link("see "), Link("#inc-1", "https://slack.com/app_redirect?channel=C1")),),
                     marker="irbot:INC-1#1", due="2030-01-31")
    assert "[#inc-1](https://slack.com/app_redirect?channel=C1)" in _markdown(issue)
    document = _adf(issue)
    assert document["type"] == "doc" and has_marker(adf_text(document), "irbot:INC-1#1")
    [link] = [n for p in document["content"] for n in p["content"] if n.get("marks")]
    assert link["marks"][0]["attrs"]["href"].startswith("https://slack.com/")


def test_refusals_say_whether_to_retry_and_when() -> None:
    assert _refusal("github", 401, {}, "Bad credentials").final
    assert _refusal("jira", 404, {}, "").final
    throttled = _refusal("github", 429, {"Retry-After": "7"}, "")
    assert not throttled.final and throttled.retry_after == 7
    assert not _refusal("github", 503, {}, "").final
    limited = _refusal("github", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, "")
    assert not limited.final and limited.code == "rate_limited"
