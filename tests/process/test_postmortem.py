"""The post-mortem's record and compile with real ``irbot serve`` processes.

kill -9, people keep talking, restart: what they said is stored without anyone asking. The fake
Slack lives in the test's event loop; events it sends while irbot is dead are lost after its
retries, as in Slack, so only the backfill at start-up can bring them into the record.

Two replicas behind one Request URL: one compile at a time, whichever replica a request reaches.
"""

from __future__ import annotations

import json
import os

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


@pytest.mark.skipif(not os.environ.get("IRBOT_TEST_DATABASE_URL"),
                    reason="replicas need PostgreSQL: set IRBOT_TEST_DATABASE_URL (CI does)")
async def test_one_compile_at_a_time_across_replicas(scene: Scene) -> None:
    fake = scene.fake
    _, proxy = await scene.replicas(2)
    alice = scene.user("alice")
    channel = (await scene.declare("alice", "Search down", {"Severity": "SEV-2"})).id
    upload = fake.hold_next("files.getUploadURLExternal")  # the first compile stays under way
    start = len(proxy.forwarded)
    answers = [fake.text_of((await scene.slack.command(alice, "/incident", "postmortem", channel=channel)).json)
               for _ in range(6)]
    assert set(proxy.forwarded[start:]) == {0, 1}, "both replicas were asked"
    upload.set()
    await scene.eventually(lambda: [m for m in fake.messages(channel) if m.get("files") and m.get("bot_id")],
                           what="the post-mortem shared")
    await scene.eventually(lambda: fake.bookmarks(channel), what="the post-mortem bookmarked")
    assert sum("Compiling the post-mortem" in a for a in answers) == 1, answers
    assert sum("being compiled right now" in a for a in answers) == 5, answers
    await scene.eventually(lambda: scene.query("SELECT postmortem_lease_until FROM incident") == [(None,)],
                           what="the compile lease freed")
    assert len(fake.calls_to("files.getUploadURLExternal")) == 1 and len(fake.bookmarks(channel)) == 1
