"""kill -9 and a restart on the same database: what was started is finished, nothing twice.

Each test runs ``irbot serve`` as a real process, holds a Slack call in flight with the fake
(``fail_next(method, delay=...)``: the call takes effect late, after irbot has died), kills the
process with SIGKILL at that moment and starts a new one on the same database and port. The
fake Slack lives in the test's event loop and does not notice the restart, as real Slack would
not; events it sends while irbot is down are lost after its retries, as in Slack.

Where irbot leaves a half state that nothing finishes, the test says so with :class:`KnownGap`
and is marked ``xfail(strict=True, raises=KnownGap)``: any other failure, including what irbot
does guarantee (nothing stored is lost), still fails the test.
"""

from __future__ import annotations

from typing import Callable

import pytest

from .conftest import CADENCE, KnownGap, Scene, gap

pytestmark = pytest.mark.slow

REPAIR_WAIT = 6.0  # how long after a restart the test waits for the start-up repair (it runs at start)


def _stuck_declare_reason() -> str:
    return ("services/declare.py: a kill -9 during set-up leaves the incident 'opening' with the dead "
            "process's setup_lease_until (claimed for SETUP_LEASE = 60 s); resume_unfinished runs once at "
            "start-up, cannot claim it while the lease lasts and never tries again, so after a prompt "
            "restart the incident stays half built until some later restart")


DECLARE_GAPS = [
    pytest.param("conversations.create", id="creating-channel",
                 marks=pytest.mark.xfail(strict=True, raises=KnownGap, reason=_stuck_declare_reason())),
    pytest.param("chat.postMessage", id="posting-card",
                 marks=pytest.mark.xfail(strict=True, raises=KnownGap, reason=_stuck_declare_reason() + "; and "
                                         "once repaired, _post_card posts a second card (the first landed "
                                         "but its ts was never saved)")),
]


@pytest.mark.parametrize("method", DECLARE_GAPS)
async def test_killed_during_declare_is_finished_once_at_restart(scene: Scene, method: str) -> None:
    fake = scene.fake
    bot = await scene.start()
    scene.hold_next(method, seconds=1.0)
    await scene.submit_declare("alice", "Checkout errors", {"Severity": "SEV-2"})
    await scene.eventually(lambda: scene.held(method), what=f"{method} in flight")
    bot.kill()
    [(number, setup)] = scene.query("SELECT number, setup FROM incident")
    assert (number, setup) == (1, "opening"), "the declaration was stored before the ack"
    await scene.quiet(1.2)  # the held call takes effect in Slack after irbot died
    await bot.start()
    try:
        await scene.eventually(lambda: scene.query("SELECT 1 FROM incident WHERE setup = 'open'"),
                               timeout=REPAIR_WAIT, what="the start-up repair finishing the incident")
    except AssertionError:
        state = scene.query("SELECT setup, channel_id, card_ts, setup_lease_until FROM incident")
        raise KnownGap(f"not finished {REPAIR_WAIT:.0f}s after the restart: {state}") from None
    [channel] = scene.incident_channels()
    assert fake.channel(channel).name == "inc-1-checkout-errors", "no second channel"
    await scene.eventually(lambda: scene.set_up(channel), what="card pinned, topic set, announced")
    assert fake.user("alice").id in fake.channel(channel).members
    assert len(fake.pins(channel)) == 1
    gap(len(scene.cards(channel)) == 1, f"{len(scene.cards(channel))} cards posted in the channel")
    assert len(scene.announcements(channel)) == 1, "announced once"


async def test_killed_during_announcement_is_finished_once_at_restart(scene: Scene) -> None:
    """Set-up steps before the announcement are done; the announcement itself is in flight."""
    fake = scene.fake
    bot = await scene.start()
    scene.hold_next("conversations.invite", seconds=1.0)  # the step just before the announcement
    await scene.submit_declare("alice", "Search is slow", {"Severity": "SEV-2"})
    await scene.eventually(lambda: scene.held("conversations.invite"), what="set-up reached the invite")
    scene.hold_next("chat.postMessage", seconds=1.0)  # the next post is the announcement
    await scene.eventually(lambda: scene.held("chat.postMessage"), what="the announcement in flight")
    bot.kill()
    await scene.quiet(1.2)
    [channel] = scene.incident_channels()
    assert len(scene.announcements(channel)) == 1, "the held announcement landed after the kill"
    await bot.start()
    try:
        await scene.eventually(lambda: scene.query("SELECT 1 FROM incident WHERE setup = 'open'"),
                               timeout=REPAIR_WAIT, what="the start-up repair finishing the incident")
    except AssertionError:
        raise KnownGap(f"not finished {REPAIR_WAIT:.0f}s after the restart") from None
    await scene.quiet(1.0)
    assert scene.incident_channels() == [channel] and len(scene.cards(channel)) == 1
    gap(len(scene.announcements(channel)) == 1, f"announced {len(scene.announcements(channel))} times")


test_killed_during_announcement_is_finished_once_at_restart = pytest.mark.xfail(
    strict=True, raises=KnownGap,
    reason=_stuck_declare_reason() + "; and once repaired, _announce posts a second announcement in "
    "#incidents (the first landed but announce_ts was never saved)",
)(test_killed_during_announcement_is_finished_once_at_restart)


@pytest.mark.xfail(strict=True, raises=KnownGap, reason=(
    "services/roles.py and services/updates.py: a role change, update or resolution is committed, then its "
    "Slack side (channel message, brief, card/topic/announcement refresh) runs in an in-memory task; a "
    "kill -9 between the two leaves the database ahead of Slack and nothing re-runs the Slack side at "
    "start-up (no outbox / pending-announcement record), so the card and channel stay stale and nobody is told"))
async def test_killed_right_after_the_ack_leaves_no_half_state(scene: Scene) -> None:
    fake = scene.fake
    bot = await scene.start()
    channel = (await scene.declare("alice", "Payments failing", {"Severity": "SEV-2"})).id
    bob, erin = scene.user("bob"), scene.user("erin")
    for person in (bob, erin):
        await fake.join(person, channel)
    problems: list[str] = []

    async def restart() -> None:
        bot.kill()
        await scene.quiet(1.2)  # whatever was in flight lands in Slack now
        await bot.start()

    async def repaired(**checks: Callable[[], bool]) -> None:
        """Wait (once) for every check; record those still false after REPAIR_WAIT."""
        try:
            await scene.eventually(lambda: all(check() for check in checks.values()), timeout=REPAIR_WAIT)
        except AssertionError:
            problems.extend(f"{what.replace('_', ' ')}: not so {REPAIR_WAIT:.0f}s after the restart"
                            for what, check in checks.items() if not check())

    # 1. Killed before the change is stored (irbot is still looking the person up): nothing changed.
    scene.hold_next("users.info")
    await scene.slack.click(erin, channel, scene.card_ts(channel), "Take Technical Lead")
    await scene.eventually(lambda: scene.held("users.info"), what="the role change in progress")
    await restart()
    assert scene.query("SELECT user_id FROM incident_role WHERE role_key = 'tech_lead'") == [(None,)]
    assert "*Technical Lead*: _unassigned_" in scene.card(channel), "database and card agree: no change"

    # 2. Killed after the role change is stored, while its Slack side is in flight.
    scene.hold_next("conversations.invite")
    await scene.slack.click(bob, channel, scene.card_ts(channel), "Take Incident Commander")
    await scene.eventually(lambda: scene.held("conversations.invite"), what="the role change announced")
    await restart()
    assert scene.query("SELECT user_id FROM incident_role WHERE role_key = 'commander'") == [(bob.id,)]
    await repaired(
        card_shows_the_commander=lambda: f"*Incident Commander*: <@{bob.id}>" in scene.card(channel),
        channel_told_who_commands=lambda: any(f"<@{bob.id}> is now *Incident Commander*" in t
                                              for t in scene.bot_texts(channel)))

    # 3. Killed after an update is stored, while it is being posted.
    view = await scene.open_form("bob", "update", channel)
    scene.hold_next("chat.postMessage")
    await scene.slack.submit_view(bob, view["id"], {"Status": "Mitigating", "What changed": "Rolled back v42"})
    await scene.eventually(lambda: scene.held("chat.postMessage"), what="the update being posted")
    await restart()
    assert scene.query("SELECT status FROM incident") == [("mitigating",)]
    assert scene.query("SELECT count(*) FROM timeline_event WHERE kind = 'update'") == [(1,)]
    await repaired(
        update_in_the_channel_once=lambda: sum("Rolled back v42" in t for t in scene.bot_texts(channel)) == 1,
        card_shows_mitigating=lambda: "*Status*\nMitigating" in scene.card(channel))

    # 4. Killed after the resolution is stored, while it is being announced.
    view = await scene.open_form("bob", "resolve", channel)
    scene.hold_next("chat.postMessage")
    await scene.slack.submit_view(bob, view["id"], {"Resolution summary (one line)": "Scaled the pool"})
    await scene.eventually(lambda: scene.held("chat.postMessage"), what="the resolution being announced")
    await restart()
    assert scene.query("SELECT status FROM incident") == [("resolved",)]
    await repaired(
        channel_told_it_is_resolved=lambda: any("is resolved" in t for t in scene.bot_texts(channel)),
        card_shows_resolved=lambda: "*Status*\nResolved" in scene.card(channel),
        announcement_shows_resolved=lambda: any("Resolved" in t for t in scene.announcements(channel)))
    gap(not problems, "half states after kill -9:\n  " + "\n  ".join(problems))


async def test_reminders_missed_while_killed_catch_up_once_then_keep_the_cadence(scene: Scene) -> None:
    bot = await scene.start()
    channel = (await scene.declare("alice", "Payments down", {"Severity": "SEV-1"})).id
    await scene.take("alice", channel)
    await scene.eventually(lambda: len(scene.reminder_times(channel)) >= 1, timeout=3 * CADENCE,
                           what="a first update reminder")
    await scene.quiet(0.5)  # the reminder is posted; let irbot record it and plan the next
    bot.kill()
    before = len(scene.reminder_times(channel))
    await scene.quiet(2.5 * CADENCE)  # more than two reminders fall due while irbot is dead
    assert len(scene.reminder_times(channel)) == before
    await bot.start()
    await scene.eventually(lambda: len(scene.reminder_times(channel)) >= before + 1, timeout=CADENCE,
                           what="the catch-up reminder at start-up")
    await scene.quiet(0.5)
    assert len(scene.reminder_times(channel)) == before + 1, "one catch-up for all the missed reminders"
    await scene.quiet(2.4 * CADENCE)
    times = scene.reminder_times(channel)
    after = times[before:]
    assert 2 <= len(after) <= 4, f"catch-up then one per {CADENCE}s, got {len(after)}"
    gaps = [b - a for a, b in zip(after, after[1:])]
    assert all(g > CADENCE * 0.7 for g in gaps), f"reminders doubled: spacing {gaps}"


@pytest.mark.xfail(strict=True, raises=KnownGap, reason=(
    "services/reminders.py + scheduler.py: a kill -9 while a reminder is being posted leaves its row "
    "'firing' with a 2-minute lease; the new process's catch-up (fire_due) skips it until the lease ends, "
    "its APScheduler date job is gone, and nothing looks again later, so update reminders for the "
    "incident stop until someone posts an update or irbot restarts after the lease"))
async def test_killed_while_posting_a_reminder_reminders_continue(scene: Scene) -> None:
    bot = await scene.start()
    channel = (await scene.declare("alice", "Payments down", {"Severity": "SEV-1"})).id
    await scene.take("alice", channel)
    await scene.eventually(lambda: len(scene.reminder_times(channel)) >= 1, timeout=3 * CADENCE,
                           what="a first update reminder")
    await scene.quiet(0.3)
    scene.hold_next("chat.postMessage")  # the next post is the next reminder
    await scene.eventually(lambda: scene.held("chat.postMessage"), timeout=2 * CADENCE,
                           what="the next reminder in flight")
    bot.kill()
    await scene.quiet(1.2)
    posted = len(scene.reminder_times(channel))
    await bot.start()
    try:
        await scene.eventually(lambda: len(scene.reminder_times(channel)) >= posted + 2, timeout=3 * CADENCE,
                               what="reminders continuing after the restart")
    except AssertionError:
        state = scene.query("SELECT kind, state, due_at, lease_until FROM reminder WHERE kind = 'update_due'")
        raise KnownGap(f"no reminders {3 * CADENCE:.0f}s after the restart; reminder row: {state}") from None
    times = scene.reminder_times(channel)
    assert all(b - a > CADENCE * 0.5 for a, b in zip(times[posted:], times[posted + 1:]))


@pytest.mark.xfail(strict=True, raises=KnownGap, reason=(
    "services/postmortem.py backfill: a process that stopped beating less than HEARTBEAT_SLACK (45 s) ago "
    "counts as listening until now, and a kill -9 leaves no 'stopped' beat; after a prompt restart the "
    "dead process's window covers the downtime, no gap is found, history is not read and the messages "
    "said while irbot was dead are missing from the post-mortem"))
async def test_messages_said_while_killed_are_in_the_postmortem_once(scene: Scene) -> None:
    fake = scene.fake
    bot = await scene.start()
    alice, bob = scene.user("alice"), scene.user("bob")
    channel = (await scene.declare("alice", "DNS flapping", {"Severity": "SEV-2"})).id
    await fake.join(bob, channel)
    parent = await fake.say(alice, channel, "said before the crash")
    await fake.events_delivered()
    bot.kill()
    for n in range(12):
        await fake.say(bob, channel, f"said while down {n}")
    for n in range(3):
        await fake.say(alice, channel, f"replied while down {n}", thread_ts=parent)
    await fake.events_delivered()  # Slack tried, and gave up: irbot was not there
    await bot.start()
    await fake.say(bob, channel, "said after the restart")
    await fake.events_delivered()
    view = await scene.open_form("alice", "resolve", channel)
    await scene.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Pinned the resolver"})
    await scene.eventually(lambda: "*Status*\nResolved" in scene.card(channel), what="resolved")
    await scene.slack.command(alice, "/incident", "postmortem", channel=channel)
    await scene.eventually(lambda: [m for m in fake.messages(channel) if m.get("files") and m.get("bot_id")],
                           what="the post-mortem shared")
    document = scene.upload_text(channel)
    assert document.count("said before the crash") == 1
    assert document.count("said after the restart") == 1
    missing = [n for n in range(12) if document.count(f"bob**: said while down {n}\n") != 1]
    missing += [f"reply {n}" for n in range(3) if document.count(f"alice**: replied while down {n}\n") != 1]
    gap(not missing, f"messages said while irbot was dead missing or doubled: {missing} "
                     f"(conversations.history calls: {scene.calls('conversations.history')})")
