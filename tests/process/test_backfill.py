"""kill -9, people keep talking, restart: what they said is stored without anyone asking.

The fake Slack lives in the test's event loop; events it sends while irbot is dead are lost after
its retries, as in Slack, so only the backfill at start-up can bring them into the record.
"""

from __future__ import annotations

import json

import pytest

from .conftest import Scene

pytestmark = pytest.mark.slow


async def test_messages_said_while_killed_are_stored_at_restart_without_a_command(scene: Scene) -> None:
    fake = scene.fake
    bot = await scene.start()
    alice, bob = scene.user("alice"), scene.user("bob")
    channel = (await scene.declare("alice", "Cache stampede", {"Severity": "SEV-2"})).id
    await fake.join(bob, channel)
    parent = await fake.say(alice, channel, "said before the crash")
    await fake.events_delivered()
    bot.kill()
    for n in range(5):
        await fake.say(bob, channel, f"said while down {n}")
    await fake.say(alice, channel, "replied while down", thread_ts=parent)
    await fake.events_delivered()  # Slack tried, and gave up: irbot was not there
    await bot.start()
    expected = sorted(["said before the crash", "replied while down"] + [f"said while down {n}" for n in range(5)])

    def stored() -> list[str]:
        rows = scene.query("SELECT e.text, e.data FROM timeline_event e JOIN incident i ON i.id = e.incident_id "
                           "WHERE i.channel_id = :c AND e.kind = 'message'", c=channel)
        return sorted(text for text, _data in rows)

    await scene.eventually(lambda: stored() == expected, what=f"every message stored (have {stored()})")
    rows = scene.query("SELECT e.data FROM timeline_event e JOIN incident i ON i.id = e.incident_id "
                       "WHERE i.channel_id = :c AND e.kind = 'message'", c=channel)
    timestamps = [(data if isinstance(data, dict) else json.loads(data))["ts"] for (data,) in rows]
    assert len(timestamps) == len(set(timestamps)) == len(expected), "each message once"
    assert scene.calls("conversations.history") >= 1, "read from Slack's history at start-up"
