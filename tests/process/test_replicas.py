"""Two ``irbot serve`` processes on one PostgreSQL database, behind one Request URL.

The round-robin proxy sends each request (commands, clicks, form submissions, events) to the
other replica in turn, so every flow is split across processes the way a load balancer splits it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

import pytest

from tests.rigs.processes import IrbotProcess

from .conftest import CADENCE, Scene

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("IRBOT_TEST_DATABASE_URL"),
                       reason="replicas need PostgreSQL: set IRBOT_TEST_DATABASE_URL (CI does); "
                              "on SQLite irbot runs as one process"),
]


async def test_declares_across_replicas_are_numbered_without_gaps(scene: Scene) -> None:
    fake = scene.fake
    _, proxy = await scene.replicas(2)
    people = ["alice", "bob", "carol", "dave", "erin", "alice"]
    forms = [(who, await scene.open_form(who, f"declare Outage {n}")) for n, who in enumerate(people, 1)]
    answers = await asyncio.gather(*(scene.slack.submit_view(scene.user(who), view["id"], {"Severity": "SEV-2"})
                                     for who, view in forms))
    assert all(a.status == 200 and not a.body.strip() for a in answers)
    assert set(proxy.forwarded) == {0, 1}, "both replicas served requests"
    channels = await scene.eventually(
        lambda: (lambda done: done if len(done) == 6 else None)([c for c in scene.incident_channels()
                                                                 if scene.set_up(c)]),
        timeout=30, what="six incidents set up")
    assert len(scene.incident_channels()) == 6, "one channel per declare"
    await scene.eventually(lambda: scene.query("SELECT count(*) FROM incident WHERE setup = 'open'") == [(6,)],
                           what="six incidents recorded as open")
    rows = scene.query("SELECT number, channel_id, setup FROM incident ORDER BY number")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {r[1] for r in rows} == set(channels) and {r[2] for r in rows} == {"open"}
    names = sorted(fake.channel(c).name for c in channels)
    assert [int(re.match(r"inc-(\d+)-outage-\d", n).group(1)) for n in names] == [1, 2, 3, 4, 5, 6], names
    for number, channel, _ in rows:
        [announcement] = scene.announcements(channel)
        assert f"INC-{number}" in announcement
        assert f"INC-{number}" in scene.card(channel)


async def test_events_split_across_replicas_and_retried_are_stored_once(scene: Scene) -> None:
    fake = scene.fake
    _, proxy = await scene.replicas(2)
    alice, bob, carol = scene.user("alice"), scene.user("bob"), scene.user("carol")
    channel = (await scene.declare("alice", "Queue lag", {"Severity": "SEV-2"})).id
    for person in (bob, carol):
        await fake.join(person, channel)
    start = len(proxy.forwarded)
    parent = await fake.say(alice, channel, "message 0")
    for n in range(1, 16):
        await fake.say((alice, bob, carol)[n % 3], channel, f"message {n}")
    for n in range(4):
        await fake.say(bob, channel, f"reply {n}", thread_ts=parent)
    await fake.events_delivered()
    assert set(proxy.forwarded[start:]) == {0, 1}, "the events went to both replicas"
    # Slack delivers some again (its retries): each retry may reach the other replica.
    messages = [e for e in fake.delivered_events if e["event"].get("type") == "message"
                and e["event"].get("channel") == channel and e["event"].get("user") != fake.bot_user_id]
    assert len(messages) >= 20
    for envelope in messages[::2]:
        assert await fake.redeliver(envelope["event_id"]) == 200
    await asyncio.gather(*(fake.redeliver(e["event_id"]) for e in messages[1::4]))
    [(incident_id,)] = scene.query("SELECT id FROM incident")
    stored = scene.query("SELECT data FROM timeline_event WHERE incident_id = :i AND kind = 'message'", i=incident_id)
    said = [m for m in fake.messages(channel) if m.get("user") in (alice.id, bob.id, carol.id) and not m.get("subtype")]
    assert len(said) == 20
    assert sorted(_ts(data) for (data,) in stored) == sorted(m["ts"] for m in said), "every message stored exactly once"
    await scene.slack.command(alice, "/incident", "postmortem", channel=channel)
    await scene.eventually(lambda: [m for m in fake.messages(channel) if m.get("files") and m.get("bot_id")],
                           what="the post-mortem shared")
    document = scene.upload_text(channel)
    for n in range(16):
        assert len(re.findall(rf"\*\*: message {n}\n", document)) == 1, f"message {n}"
    for n in range(4):
        assert document.count(f"bob**: reply {n}\n") == 1
    assert scene.calls("conversations.history") == 0, "captured live by the replicas: no backfill needed"


def _ts(data: object) -> str:
    if isinstance(data, str):
        data = json.loads(data)
    assert isinstance(data, dict)
    return str(data["ts"])


async def test_four_people_racing_for_commander_on_both_replicas_one_wins(scene: Scene) -> None:
    fake = scene.fake
    _, proxy = await scene.replicas(2)
    channel = (await scene.declare("alice", "Login failures", {"Severity": "SEV-2"})).id
    racers = [scene.user(name) for name in ("bob", "carol", "dave", "erin")]
    for person in racers:
        await fake.join(person, channel)
    card = scene.card_ts(channel)
    start = len(proxy.forwarded)
    answers = await asyncio.gather(*(scene.slack.click(p, channel, card, "Take Incident Commander") for p in racers))
    assert all(a.status == 200 for a in answers)
    assert set(proxy.forwarded[start:]) == {0, 1}, "the clicks reached both replicas"
    [holder] = await scene.eventually(
        lambda: [p for p in racers if f"*Incident Commander*: <@{p.id}>" in scene.card(channel)],
        what="a commander on the card")
    await scene.quiet(2.0)  # let every loser's answer and any stray effect land
    assert scene.query("SELECT user_id FROM incident_role WHERE role_key = 'commander'") == [(holder.id,)]
    assert scene.query("SELECT count(*) FROM timeline_event WHERE kind = 'role_changed'") == [(1,)]
    told = [t for t in scene.bot_texts(channel) if "is now *Incident Commander*" in t]
    assert told == [told[0]] and f"<@{holder.id}>" in told[0], told
    assert f"*Incident Commander*: <@{holder.id}>" in scene.card(channel)
    for loser in racers:
        if loser is not holder:
            [answer] = [fake.text_of(e) for e in fake.ephemerals(user=loser, channel=channel)]
            assert f"<@{holder.id}>" in answer, answer


async def test_reminders_fire_once_and_the_standby_takes_over_when_the_leader_dies(scene: Scene) -> None:
    bots, _ = await scene.replicas(2)
    roles = await _scheduler_roles(bots)
    assert sorted(roles) == ["active", "standby"], roles
    channel = (await scene.declare("alice", "Payments down", {"Severity": "SEV-1"})).id
    await scene.take("alice", channel)
    await scene.eventually(lambda: scene.reminder_times(channel), timeout=3 * CADENCE, what="a first reminder")
    first = len(scene.reminder_times(channel)) - 1
    await scene.quiet(3.3 * CADENCE)  # ~10 s of reminders with both replicas up
    times = scene.reminder_times(channel)[first:]
    assert 3 <= len(times) <= 5, f"one reminder per {CADENCE}s, got {len(times)}"
    _assert_spaced(times)

    leader = bots[roles.index("active")]
    standby = bots[1 - roles.index("active")]
    posted = len(scene.reminder_times(channel))
    await scene.eventually(lambda: len(scene.reminder_times(channel)) > posted, timeout=2 * CADENCE,
                           what="another reminder")
    await scene.quiet(0.5)  # kill between reminders, not in the middle of posting one (see test_crashes)
    leader.kill()
    killed_at = asyncio.get_running_loop().time()
    await scene.eventually(lambda: _is_active(standby), timeout=30, what="the standby taking over")
    took_over = asyncio.get_running_loop().time() - killed_at
    assert took_over < 30
    before = len(scene.reminder_times(channel))
    await scene.eventually(lambda: len(scene.reminder_times(channel)) >= before + 2, timeout=3 * CADENCE,
                           what="reminders continuing from the new leader")
    _assert_spaced(scene.reminder_times(channel))  # the whole run, across the takeover: none doubled
    print(f"standby took over {took_over:.1f}s after the leader was killed")


async def _scheduler_roles(bots: list[IrbotProcess]) -> list[str]:
    roles = []
    for bot in bots:
        health = await bot.health()
        assert health is not None
        roles.append(str(health.get("scheduler")))
    return roles


async def _is_active(bot: IrbotProcess) -> bool:
    health = await bot.health()
    return health is not None and health.get("scheduler") == "active"


def _assert_spaced(times: list[float]) -> None:
    spacing = [round(b - a, 2) for a, b in zip(times, times[1:])]
    assert all(s > CADENCE * 0.5 for s in spacing), f"reminders doubled: spacing {spacing}"
