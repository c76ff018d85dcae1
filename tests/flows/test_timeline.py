"""Timeline capture and the post-mortem: every word, once, in order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from irbot.store import repo
from irbot.fakeslack.harness import Harness


def upload_text(harness: Harness, channel: str) -> str:
    """The content of the last file irbot shared in the channel."""
    shared = [m for m in harness.fake.messages(channel) if m.get("files") and m.get("bot_id")]
    assert shared, "no file was shared"
    content = harness.fake.file_content(shared[-1]["files"][0]["id"])
    assert content is not None
    return content.decode("utf-8")


async def test_live_capture_and_postmortem(harness: Harness) -> None:
    fake = harness.fake
    alice, bob, carol = harness.user("alice"), harness.user("bob"), harness.user("carol")
    channel = await harness.declare("alice", "Checkout errors", values={"Severity": "SEV-2"})
    for person in (bob, carol):
        await fake.join(person, channel.id)
    await harness.slack.command(bob, "/incident", f"assign commander <@{bob.id}>", channel=channel.id)
    first = await fake.say(alice, channel.id, "Seeing 502s from <https://grafana.example/d/1|the dashboard>")
    await fake.say(bob, channel.id, f"<@{carol.id}> can you check the *load balancer*?", thread_ts=first)
    await fake.say(carol, channel.id, "On it", thread_ts=first)
    secret = await fake.say(carol, channel.id, "password is hunter2")
    typo = await fake.say(bob, channel.id, "rollback teh deploy")
    await harness.settle()
    await fake.edit(bob, channel.id, typo, "roll back the deploy")
    await fake.delete(channel.id, secret)
    await fake.react(alice, channel.id, typo, "pushpin")
    await harness.settle()
    await harness.slack.command(bob, "/incident", "note Rollback started 14:05", channel=channel.id)
    await harness.slack.command(bob, "/incident", "status mitigating", channel=channel.id)
    await harness.slack.command(bob, "/incident", f"action add Add a 502 alert <@{carol.id}> due 2026-12-15 "
                                                  "priority high", channel=channel.id)
    await harness.settle()
    # Slack delivers one message event again: nothing doubles.
    for envelope in list(fake.delivered_events)[-3:]:
        await fake.redeliver(envelope["event_id"])
    await harness.settle()

    timeline = await harness.slack.command(bob, "/incident", "timeline", channel=channel.id)
    shown = fake.text_of(timeline.json)
    assert "Rollback started 14:05" in shown and "Mitigating" in shown.lower() or "mitigating" in shown
    assert f"Note by <@{bob.id}>" in shown and "&lt;@" not in shown, "mentions rendered once, not escaped twice"

    await harness.slack.command(bob, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    document = upload_text(harness, channel.id)
    assert fake.calls_to("conversations.history") == [], "captured live: no history call"
    assert "Seeing 502s from [the dashboard](https://grafana.example/d/1)" in document
    assert "@carol can you check the **load balancer**?" in document
    assert document.count("On it") == 1
    assert "roll back the deploy" in document and "first written: “rollback teh deploy”" in document
    assert "hunter2" not in document and "(deleted at" in document
    assert "📌" in document and "Rollback started 14:05" in document
    assert "Add a 502 alert" in document and "| high |" in document
    assert "| Incident Commander | bob |" in document
    assert "investigating → **mitigating**" in document
    assert "U0" not in document, "no raw user ids"
    assert fake.bookmarks(channel.id), "the post-mortem is bookmarked"
    users_info = [c for c in fake.calls_to("users.info")]
    assert len(users_info) == len({c[1]["user"] for c in users_info}), "one users.info per person"
    # Thread replies sit under their parent, in order.
    parent_at = document.index("Seeing 502s")
    assert parent_at < document.index("  - ") < document.index("On it")


async def test_messages_said_while_irbot_was_down_are_backfilled(harness: Harness) -> None:
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "DNS flapping")
    await fake.join(bob, channel.id)
    parent = await fake.say(alice, channel.id, "before the restart")
    await harness.settle()
    await harness.stop_app()
    for n in range(12):
        await fake.say(bob, channel.id, f"while down {n}")
    for n in range(3):
        await fake.say(alice, channel.id, f"reply while down {n}", thread_ts=parent)
    await harness.start_app()
    await harness.settle()
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    document = upload_text(harness, channel.id)
    for n in range(12):
        assert document.count(f"bob**: while down {n}\n") == 1
    for n in range(3):
        assert document.count(f"alice**: reply while down {n}\n") == 1
    assert document.count("before the restart") == 1
    assert fake.calls_to("conversations.history"), "the gap was backfilled from history"
    # Compiling again stores nothing twice.
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    assert upload_text(harness, channel.id).count("bob**: while down 3\n") == 1


async def test_what_was_said_while_irbot_was_down_is_stored_at_start_up_unasked(harness: Harness) -> None:
    """The timeline, `irbot export` and the offline post-mortem are whole without a Slack command."""
    fake, alice, bob = harness.fake, harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Queue backlog")
    other = await harness.declare("bob", "Disk full")
    await fake.join(bob, channel.id)
    parent = await fake.say(alice, channel.id, "before the restart")
    await harness.settle()
    await harness.stop_app()
    for n in range(3):
        await fake.say(bob, channel.id, f"while down {n}")
    await fake.say(alice, channel.id, "reply while down", thread_ts=parent)
    await fake.say(bob, other.id, "said in the other incident")
    history = fake.hold_next("conversations.history")  # Slack is slow to answer ...
    fake.fail_next("conversations.history", retry_after=1)  # ... and then rate-limits the backfill
    await asyncio.wait_for(harness.start_app(), 60)  # (a guard: start-up must not wait for the backfill)
    answer = await harness.slack.command(alice, "/incident", "timeline", channel=channel.id)
    assert answer.status == 200 and "Declared" in fake.text_of(answer.json), "commands answered meanwhile"
    history.set()
    await harness.settle()
    assert [status for *_, status in fake.calls_to("conversations.history")].count(429) == 1, "waited it out"

    async def said(channel_id: str) -> list[str]:
        async with harness.irbot.deps.db.reader() as session:
            incident = await repo.incident_by_channel(channel_id, session=session)
            assert incident is not None
            rows = await repo.timeline_rows(incident.id, session=session)
        return sorted(text for kind, _at, _actor, text, _data in rows if kind == "message")

    assert await said(channel.id) == sorted(["before the restart", "reply while down"]
                                            + [f"while down {n}" for n in range(3)])
    assert await said(other.id) == ["said in the other incident"]
    # The gap was read once: compiling now needs no history.
    history_calls = len(fake.calls_to("conversations.history"))
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    assert "bob**: while down 2\n" in upload_text(harness, channel.id)
    assert len(fake.calls_to("conversations.history")) == history_calls


async def test_action_items_list_and_done(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Stale cache")
    bad = await harness.slack.command(alice, "/incident", "action add", channel=channel.id)
    assert "/incident action add <text>" in fake.text_of(bad.json)
    await harness.slack.command(alice, "/incident", "action add Write the runbook", channel=channel.id)
    await harness.slack.command(alice, "/incident", "action add Fix TTLs priority low", channel=channel.id)
    await harness.settle()
    listing = await harness.slack.command(alice, "/incident", "action list", channel=channel.id)
    text = fake.text_of(listing.json)
    assert "#1* Write the runbook" in text and "#2* Fix TTLs" in text and "low" in text
    await harness.slack.command(alice, "/incident", "action done 2", channel=channel.id)
    await harness.settle()
    assert any("marked action item *#2* completed" in t for t in harness.bot_messages(channel.id))
    missing = await harness.slack.command(alice, "/incident", "action done 9", channel=channel.id)
    assert "no action item #9" in fake.text_of(missing.json)


async def test_offline_postmortem_from_the_cli(harness: Harness, database_url: str, tmp_path: Path) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Offline report")
    await fake.say(alice, channel.id, "hello from the channel")
    await harness.settle()
    out = tmp_path / "pm.md"
    result = subprocess.run([sys.executable, "-m", "irbot", "postmortem", "INC-1", "-o", str(out)],
                            env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    document = out.read_text(encoding="utf-8")
    assert "Post-mortem: INC-1 · Offline report" in document and "hello from the channel" in document
    assert "alice" in document
    missing = subprocess.run([sys.executable, "-m", "irbot", "postmortem", "INC-99"],
                             env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no incident INC-99" in missing.stderr
    assert "Traceback" not in missing.stderr


async def test_a_channel_that_becomes_an_incident_channel_is_captured_from_then_on(harness: Harness) -> None:
    """irbot remembers which incident a channel belongs to, but never that a channel has none."""
    fake, alice = harness.fake, harness.user("alice")
    # The channel irbot had created for INC-1 before a crash, before it could record it.
    early = fake.add_channel("inc-1-dns-flapping", members=[fake.bot_user_id, alice.id], creator=fake.bot_user_id)
    await fake.say(alice, early.id, "said before the channel was an incident's")
    await harness.settle()
    await harness.slack.command(alice, "/incident", "declare DNS flapping", channel="general")
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None
    await harness.slack.submit_view(alice, view["id"], {})
    await harness.settle()
    assert harness.incident_channels() == [early.id], "the declare adopts the channel it had created"
    channel = early
    await fake.say(alice, channel.id, "said in the incident")
    await harness.settle()
    async with harness.irbot.deps.db.reader() as session:
        incident = await repo.incident_by_channel(channel.id, session=session)
        assert incident is not None
        rows = await repo.timeline_rows(incident.id, session=session)
    assert [text for kind, _at, _actor, text, _data in rows if kind == "message"] == ["said in the incident"]


async def test_the_timeline_command_shows_the_latest_key_moments_in_order(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Long incident")
    for n in range(1, 46):
        await harness.slack.command(alice, "/incident", f"note step {n:02d}", channel=channel.id)
    await fake.say(alice, channel.id, "an ordinary message is no key moment")
    await harness.settle()
    answer = await harness.slack.command(alice, "/incident", "timeline", channel=channel.id)
    shown = fake.text_of({"blocks": answer.json["blocks"]})  # the fallback text may be cut short
    steps = [line.rsplit("step ", 1)[1] for line in shown.splitlines() if "step " in line]
    # The last 40 oldest first, as far as Slack's size limit on one section lets them show.
    assert len(steps) > 30 and steps == [f"{n:02d}" for n in range(6, 6 + len(steps))]
    assert "Declared by" not in shown and "ordinary message" not in shown
