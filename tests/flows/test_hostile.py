"""Hostile and malformed requests: 4xx or a polite answer, never a 5xx, never a crash."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irbot.fakeslack.harness import Harness

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
                                "action add x due 2026-13-45", "action done 999999999999999999999"]) | st.text()


def command_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    fields = st.fixed_dictionaries({"command": st.just("/incident"), "text": hostile_text, "user_id": slack_ids,
                                    "channel_id": slack_ids, "team_id": st.just("T0TEAM"),
                                    "trigger_id": st.text(max_size=10)})
    return fields.map(lambda f: (urlencode(f).encode(), FORM))


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
    event = st.fixed_dictionaries({"type": st.sampled_from(["message", "reaction_added", "pin_added", "other"]),
                                   "channel": slack_ids, "user": slack_ids, "ts": st.sampled_from(
                                       ["1764489600.000100", "not-a-ts", "", "1e400"]), "text": hostile_text},
                                  optional={"subtype": st.sampled_from(["message_changed", "message_deleted",
                                                                        "bot_message", "weird"]),
                                            "message": json_values, "previous_message": json_values,
                                            "item": json_values, "reaction": st.sampled_from(["pushpin", "x"]),
                                            "deleted_ts": st.text(max_size=10), "thread_ts": st.text(max_size=10)})
    envelope = st.fixed_dictionaries({"type": st.just("event_callback"), "event_id": st.text(min_size=1, max_size=10),
                                      "team_id": st.just("T0TEAM"), "api_app_id": st.just("A0IRBOT"), "event": event})
    return envelope.map(lambda e: (json.dumps(e).encode(), "application/json"))


raw_bodies = st.binary(max_size=300).map(lambda b: (b, "application/octet-stream")) | st.text(max_size=200).map(
    lambda t: (t.encode(), "application/json"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(request=command_bodies() | interactive_bodies() | event_bodies() | raw_bodies)
def test_generated_payloads_never_get_a_5xx(threaded: ThreadedHarness, request: tuple[bytes, str]) -> None:
    body, content_type = request
    response = threaded.run(threaded.harness.slack.post_raw(body, content_type=content_type))
    assert response.status < 500, (response.status, response.body[:300])


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
