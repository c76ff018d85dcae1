"""Hostile and malformed requests: 4xx or a polite answer, never a 5xx, never a crash."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irbot.store import repo
from irbot.fakeslack.fake.events import sign
from irbot.fakeslack.harness import SIGNING_SECRET, Harness
from tests.conftest import StartHarness

FORM = "application/x-www-form-urlencoded"


class ThreadedHarness:
    """The harness on its own event loop in a thread, so hypothesis can drive it synchronously."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.harness: Harness = self.run(Harness(database_url=database_url).start())

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.run(self.harness.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def threaded(database_url: str) -> Iterator[ThreadedHarness]:
    running = ThreadedHarness(database_url)
    try:
        yield running
    finally:
        running.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
slack_ids = st.sampled_from(["U0ALICE", "U0BOB", "C0GENERAL", "C00000001", "", "U0NOBODY"]) | st.text(max_size=12)
hostile_text = st.sampled_from(["<!channel>", "{{ 7*7 }}", "🔥" * 20, "a" * 5000, "\x00\x01", "declare x",
                                "assign commander <@U0BOB>", "status resolved", "severity 1", "note hi",
                                "action add x due 2026-13-45", "action done 999999999999999999999",
                                "note a\x00b", "declare NUL\x00title", "note \ud800 lone", "\udfff"]) | st.text()
# Where Slack sends a string, a hostile sender may put anything.
not_a_string = st.integers() | st.floats() | st.booleans() | st.lists(st.integers(), max_size=2)


def command_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    fields = st.fixed_dictionaries({"command": st.just("/incident"), "text": hostile_text, "user_id": slack_ids,
                                    "channel_id": slack_ids, "team_id": st.just("T0TEAM"),
                                    "trigger_id": st.text(max_size=10)})
    # A form carries text as UTF-8 bytes: a lone surrogate arrives as the three bytes it would encode to.
    return fields.map(lambda f: (urlencode(f, errors="surrogatepass").encode(), FORM))


def interactive_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    action = st.fixed_dictionaries({"action_id": st.sampled_from(
        ["incident.role.take", "incident.role.assign", "incident.severity.change", "incident.update.open",
         "incident.action.status", "unknown"]), "block_id": st.text(max_size=20), "value": st.text(max_size=20),
        "selected_user": slack_ids})
    block_actions = st.fixed_dictionaries({"type": st.just("block_actions"), "user": st.fixed_dictionaries(
        {"id": slack_ids}), "actions": st.lists(action, max_size=2), "channel": st.fixed_dictionaries({"id": slack_ids}),
        "trigger_id": st.text(max_size=5)})
    view = st.fixed_dictionaries({"id": st.text(max_size=8), "type": st.just("modal"), "callback_id": st.sampled_from(
        ["incident.declare", "incident.update", "incident.resolve", "other"]), "private_metadata": st.one_of(
        st.text(max_size=30), st.just('{"incident": 1}'), st.just('{"incident": "x"}')),
        "state": st.fixed_dictionaries({"values": st.dictionaries(st.text(max_size=15), st.dictionaries(
            st.just("input"), st.dictionaries(st.sampled_from(["type", "value", "selected_option"]), json_values,
                                              max_size=3), max_size=1), max_size=4)})})
    submission = st.fixed_dictionaries({"type": st.just("view_submission"), "user": st.fixed_dictionaries(
        {"id": slack_ids}), "view": view})
    anything = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
    payloads = block_actions | submission | anything
    return payloads.map(lambda p: (urlencode({"payload": json.dumps(p)}).encode(), FORM))


def event_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    timestamps = st.sampled_from(["1764489600.000100", "not-a-ts", "", "1e400", "nan", "inf", "-1", "1" * 50, "999999999999.000100"])
    message = st.fixed_dictionaries({}, optional={"ts": timestamps | not_a_string, "user": slack_ids | not_a_string,
                                                  "text": hostile_text | not_a_string, "edited": json_values,
                                                  "files": json_values, "thread_ts": timestamps})
    event = st.fixed_dictionaries({"type": st.sampled_from(["message", "reaction_added", "pin_added", "other"]),
                                   "channel": slack_ids, "user": slack_ids, "ts": timestamps,
                                   "text": hostile_text | not_a_string},
                                  optional={"subtype": st.sampled_from(["message_changed", "message_deleted",
                                                                        "bot_message", "weird"]),
                                            "message": message | json_values, "previous_message": message,
                                            "item": json_values | st.fixed_dictionaries({
                                                "channel": slack_ids, "ts": timestamps,
                                                "message": message | hostile_text}),
                                            "reaction": st.sampled_from(["pushpin", "x"]), "event_ts": timestamps,
                                            "deleted_ts": timestamps, "thread_ts": timestamps,
                                            "files": json_values})
    envelope = st.fixed_dictionaries({"type": st.just("event_callback"), "event_id": st.text(min_size=1, max_size=10),
                                      "team_id": st.just("T0TEAM"), "api_app_id": st.just("A0IRBOT"), "event": event})
    return envelope.map(lambda e: (json.dumps(e).encode(), "application/json"))


raw_bodies = st.binary(max_size=300).map(lambda b: (b, "application/octet-stream")) | st.text(max_size=200).map(
    lambda t: (t.encode("utf-8", "surrogatepass"), "application/json")) | st.sampled_from([2, 65, 999, 3000]).map(
    lambda depth: (b'{"type": "event_callback", "event": ' + b"[" * depth + b"]" * depth + b"}", "application/json"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(request=command_bodies() | interactive_bodies() | event_bodies() | raw_bodies)
def test_generated_payloads_never_get_a_5xx(threaded: ThreadedHarness, request: tuple[bytes, str]) -> None:
    body, content_type = request
    response = threaded.run(threaded.harness.slack.post_raw(body, content_type=content_type))
    assert response.status < 500, (response.status, response.body[:300])


header_bytes = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b) | st.sampled_from(
    ["¹⁷⁶⁴⁴⁸⁹⁶⁰⁰".encode(), b"1" * 5000, b"-1", b"1e9", b" 1764489600", "v0=é".encode(), b"v0=\xff"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(timestamp=header_bytes, signature=header_bytes)
def test_generated_headers_never_get_a_5xx(threaded: ThreadedHarness, timestamp: bytes, signature: bytes) -> None:
    port = threaded.harness.irbot.port
    assert port is not None
    status = threaded.run(raw_post(port, "/slack/events", [(b"Content-Type", b"application/json"),
                                                           (b"X-Slack-Request-Timestamp", timestamp),
                                                           (b"X-Slack-Signature", signature)], b"{}"))
    assert status in (400, 401), status  # 400: aiohttp refused the header bytes themselves


def test_still_serving_after_the_storm(threaded: ThreadedHarness) -> None:
    harness = threaded.harness
    for body, ctype in [(b'{"type": "event_callback", "event": ', "application/json"), (bytes(range(256)), FORM),
                        (b"payload=%5B1%5D", FORM), (b"", "application/json")]:
        assert threaded.run(harness.slack.post_raw(body, content_type=ctype)).status in (400, 404)
    channel = threaded.run(harness.declare("alice", "Still alive"))
    assert channel.name == "inc-1-still-alive"


@pytest.mark.http_only("HTTP status codes and raw bodies; Socket Mode's refusals: test_socket_mode.py")
async def test_malformed_requests_are_refused_with_4xx(harness: Harness) -> None:
    cases = [
        (b'{"type": "event_callback", "event": ', "application/json", 400),
        (b"payload=%7Bnot-json", FORM, 400),
        (b"payload=%5B1%2C2%5D", FORM, 400),
        (json.dumps({"type": "mystery"}).encode(), "application/json", 404),
        (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "channel": 5}}).encode(),
         "application/json", 400),
        (bytes(range(256)), "application/octet-stream", 400),
        (b"command=%2Fincident", FORM, 400),
    ]
    for body, content_type, status in cases:
        response = await harness.slack.post_raw(body, content_type=content_type)
        assert response.status == status, (body[:40], response.body)
    big = await harness.slack.post_raw(b"x" * (1024 * 1024 + 10), content_type=FORM)
    assert big.status == 413
    calls = len(harness.fake.calls)
    unsigned = await harness.slack.post_raw(bytes(range(256)), sign=False, content_type=FORM)
    assert unsigned.status == 401 and len(harness.fake.calls) == calls


async def raw_post(port: int, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """POST with header bytes no HTTP client library would send; returns the status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
                f"Content-Length: {len(body)}".encode(), *(name + b": " + value for name, value in headers)]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        return int(status_line.split()[1])
    finally:
        writer.close()


@pytest.mark.http_only("request headers and HTTP status codes")
async def test_hostile_headers_get_a_401_and_one_log_line(start_harness: StartHarness,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    harness = await start_harness(env={"IRBOT_ALERT_TOKEN": "alert-token"})
    port = harness.irbot.port
    assert port is not None
    body = json.dumps({"type": "url_verification", "challenge": "x"}).encode()
    now = str(int(time.time())).encode()
    good_signature = sign(SIGNING_SECRET, now.decode(), body).encode()
    json_type = (b"Content-Type", b"application/json")
    cases = {
        "superscript timestamp": ("/slack/events", [json_type, (b"X-Slack-Request-Timestamp", "¹⁷⁶⁴⁴⁸⁹⁶⁰⁰".encode()),
                                                    (b"X-Slack-Signature", good_signature)]),
        "5,000-digit timestamp": ("/slack/events", [json_type, (b"X-Slack-Request-Timestamp", b"1" * 5000),
                                                    (b"X-Slack-Signature", good_signature)]),
        "non-ASCII signature": ("/slack/events", [json_type, (b"X-Slack-Request-Timestamp", now),
                                                  (b"X-Slack-Signature", "v0=é".encode() + good_signature[4:])]),
        "latin-1 signature": ("/slack/events", [json_type, (b"X-Slack-Request-Timestamp", now),
                                                (b"X-Slack-Signature", b"v0=\xff")]),
        "non-UTF-8 bearer token": ("/alerts/alertmanager", [json_type, (b"Authorization", b"Bearer \xff")]),
        "non-ASCII bearer token": ("/alerts/alertmanager", [json_type, (b"Authorization", "Bearer é".encode())]),
    }
    for case, (path, headers) in cases.items():
        caplog.clear()
        with caplog.at_level(logging.INFO):
            status = await raw_post(port, path, headers, body)
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert status == 401, case
        assert len(loud) == 1 and loud[0].exc_info is None, (case, [r.getMessage() for r in loud])
    assert await raw_post(port, "/slack/events", [json_type, (b"X-Slack-Request-Timestamp", now),
                                                  (b"X-Slack-Signature", good_signature)], body) == 200


def _event(harness: Harness, event: dict[str, Any]) -> bytes:
    envelope = harness.fake.events.envelope(event)
    return json.dumps(envelope).encode()


async def test_malformed_signed_payloads_get_a_4xx_and_change_nothing(harness: Harness) -> None:
    """Signed, so from Slack's side of the door, but unusable: refused (400, nothing stored) rather
    than a 500 that Slack would deliver again."""
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Malformed")
    said = {"type": "message", "channel": channel.id, "user": alice.id, "text": "hello"}
    card = harness.pinned(channel.id)[0]["ts"]
    cases: dict[str, tuple[bytes, str]] = {
        f"ts {ts}": (_event(harness, {**said, "ts": ts}), "application/json")
        for ts in ("nan", "inf", "1e400", "-1", "999999999999.000100")}
    cases.update({
        "text a number": (_event(harness, {**said, "ts": "1764489600.000100", "text": 5}), "application/json"),
        "edited text a number": (_event(harness, {
            "type": "message", "subtype": "message_changed", "channel": channel.id, "ts": "1764489601.000100",
            "message": {"type": "message", "user": alice.id, "text": 7, "ts": "1764489600.000100"},
            "previous_message": {"type": "message", "user": alice.id, "text": "x", "ts": "1764489600.000100"}}),
            "application/json"),
        "edited ts nan": (_event(harness, {
            "type": "message", "subtype": "message_changed", "channel": channel.id, "ts": "1764489601.000100",
            "message": {"user": alice.id, "text": "new", "ts": "nan", "edited": {"ts": "inf"}},
            "previous_message": {"user": alice.id, "text": "old", "ts": "nan"}}), "application/json"),
        "pinned message a string": (_event(harness, {
            "type": "pin_added", "user": alice.id, "channel_id": channel.id, "event_ts": "1764489601.000100",
            "item": {"type": "message", "channel": channel.id, "message": "a string"}}), "application/json"),
        "files not objects": (_event(harness, {**said, "ts": "1764489600.000100", "files": [5]}), "application/json"),
        "click channel a number": (urlencode({"payload": json.dumps({
            "type": "block_actions", "user": {"id": alice.id}, "container": {"channel_id": 5, "message_ts": card},
            "actions": [{"action_id": "incident.role.take", "value": "commander"}]})}).encode(), FORM),
        "form value a number": (urlencode({"payload": json.dumps({
            "type": "view_submission", "user": {"id": alice.id}, "view": {
                "id": "V1", "type": "modal", "callback_id": "incident.declare", "private_metadata": "{}",
                "state": {"values": {"title": {"input": {"type": "plain_text_input", "value": 5}}}}}})}).encode(),
            FORM),
    })
    stored = await timeline_length(harness)
    for case, (body, content_type) in cases.items():
        response = await harness.slack.post_raw(body, content_type=content_type)
        # Socket Mode acknowledges a refused envelope (empty ack): Slack sending it again would not help.
        assert response.status == 400 or (harness.slack.socket_mode and response.status == 200), (
            case, response.status, response.body[:200])
    await harness.settle()
    assert await timeline_length(harness) == stored, "nothing was stored"
    assert not fake.ephemerals(user=alice), "nothing was done on alice's behalf"


async def timeline_length(harness: Harness) -> int:
    async with harness.irbot.deps.db.reader() as session:
        return len(await repo.timeline_rows(1, session=session))


@pytest.mark.http_only("a body nested past any parser's depth cannot be sent over Socket Mode")
async def test_json_nested_ten_thousand_deep_is_a_400(harness: Harness) -> None:
    deep = b'{"type": "event_callback", "event_id": "Ev1", "event": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert (await harness.slack.post_raw(deep)).status == 400
    form = urlencode({"payload": "[" * 10_000 + "]" * 10_000}).encode()
    assert (await harness.slack.post_raw(form, content_type=FORM)).status == 400
    shallow_but_deep = json.dumps({"type": "block_actions", "user": {"id": "U0ALICE"},
                                   "actions": [{"action_id": "x", "deep": json.loads("[" * 500 + "]" * 500)}]})
    assert (await harness.slack.post_raw(urlencode({"payload": shallow_but_deep}).encode(),
                                         content_type=FORM)).status == 400


async def test_form_metadata_nested_past_the_parser_is_treated_as_missing(harness: Harness,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    alice = harness.user("alice")
    await harness.declare("alice", "Deep metadata")
    deep = "[" * 3000 + "]" * 3000
    for callback in ("incident.update", "incident.resolve", "incident.declare"):
        caplog.clear()
        payload = {"type": "view_submission", "user": {"id": alice.id}, "view": {
            "id": "V0DEEP", "type": "modal", "callback_id": callback, "private_metadata": deep,
            "blocks": [{"type": "input", "block_id": "title", "element": {"type": "plain_text_input"}}],
            "state": {"values": {}}}}
        response = await harness.slack.post_raw(urlencode({"payload": json.dumps(payload)}).encode(),
                                                content_type=FORM)
        assert response.status == 200, (callback, response.body)
        assert "went wrong" not in response.body, (callback, response.body)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], callback
