"""Regulatory clocks, legal hold and the evidence log, through the fake Slack."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from irbot.store.db import sync_url
from irbot.fakeslack.harness import FakeClock, Harness

LEGAL_ROLES = ('[[roles]]\nkey = "commander"\n[[roles]]\nkey = "tech_lead"\n[[roles]]\nkey = "comms_lead"\n'
               '[[roles]]\nkey = "legal"\nname = "Legal & Compliance"\ndescription = "Regulators and counsel"\n')


@pytest.fixture
async def timed(start_harness) -> tuple[Harness, FakeClock]:  # noqa: ANN001 - conftest's factory
    clock = FakeClock()
    return await start_harness(settings=LEGAL_ROLES, clock=clock), clock

def clock_messages(harness: Harness, channel: str) -> list[str]:
    return [t for t in harness.bot_messages(channel) if "GDPR" in t or "PCI" in t]


async def setup_incident(harness: Harness) -> str:
    alice, carol = harness.user("alice"), harness.user("carol")
    channel = await harness.declare("alice", "Customer records exposed", values={"Incident type": "Data"})
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=channel.id)
    await harness.slack.command(alice, "/incident", f"assign legal <@{carol.id}>", channel=channel.id)
    await harness.settle()
    return channel.id


async def test_clock_reminders_mention_legal_once_each_across_restart_and_resolution(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice, carol = harness.user("alice"), harness.user("carol")
    channel = await setup_incident(harness)
    answer = await harness.slack.command(alice, "/incident", "clock gdpr", channel=channel)
    assert answer.status == 200
    await harness.settle()
    assert any("GDPR clock started" in t for t in harness.bot_messages(channel))
    assert "GDPR*: notify the supervisory authority by" in harness.card(channel)
    clock.advance(timedelta(hours=36, minutes=1))
    await harness.fire_due_reminders()
    [half] = [t for t in clock_messages(harness, channel) if "half of the time" in t]
    assert f"<@{carol.id}>" in half
    assert await harness.fire_due_reminders() == 0, "once each"
    await harness.stop_app()
    clock.advance(timedelta(hours=18))  # three quarters passes while irbot is down
    await harness.start_app()
    await harness.settle()
    assert len([t for t in clock_messages(harness, channel) if "three quarters" in t]) == 1
    await harness.slack.command(alice, "/incident", "resolve", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "contained"})
    await harness.settle()
    clock.advance(timedelta(hours=17, minutes=1))  # one hour before the deadline, after resolution
    await harness.fire_due_reminders()
    assert len([t for t in clock_messages(harness, channel) if "all but the last hour" in t]) == 1
    await harness.slack.command(carol, "/incident", "notified gdpr DPA-2026-118", channel=channel)
    await harness.settle()
    assert any("deadline met" in t and "DPA-2026-118" in t for t in harness.bot_messages(channel))
    clock.advance(timedelta(hours=2))
    before = len(clock_messages(harness, channel))
    await harness.fire_due_reminders()
    assert len(clock_messages(harness, channel)) == before, "notified: no more reminders"
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel)
    await harness.settle()
    shared = [m for m in harness.fake.messages(channel) if m.get("files")][-1]
    document = harness.fake.file_content(shared["files"][0]["id"]).decode()
    assert "## Compliance" in document and "| GDPR |" in document and "**met**" in document


async def test_missed_deadline_is_said_plainly_and_in_the_postmortem(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice = harness.user("alice")
    channel = await setup_incident(harness)
    await harness.slack.command(alice, "/incident", "clock pci", channel=channel)
    await harness.settle()
    clock.advance(timedelta(hours=25))
    await harness.fire_due_reminders()
    [missed] = [t for t in clock_messages(harness, channel) if "deadline has passed" in t]
    assert "PCI DSS" in missed and "payment brands" in missed
    assert "deadline missed" in harness.card(channel)
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel)
    await harness.settle()
    shared = [m for m in harness.fake.messages(channel) if m.get("files")][-1]
    assert "**missed**" in harness.fake.file_content(shared["files"][0]["id"]).decode()


async def test_clock_from_the_declare_form_and_the_card_button(timed) -> None:  # noqa: ANN001
    harness, clock = timed
    alice, bob = harness.user("alice"), harness.user("bob")
    channel = await harness.declare("alice", "Card data", values={"Personal or payment data involved?": ["PCI DSS"]})
    assert "PCI DSS*: notify the payment brands by" in harness.card(channel.id)
    await harness.fake.join(bob, channel.id)
    card = harness.pinned(channel.id)[0]["ts"]
    await harness.slack.click(bob, channel.id, card, "Mark notified")
    await harness.settle()
    assert "Only the Incident Commander" in harness.fake.text_of(harness.fake.ephemerals(user=bob)[-1])
    await harness.slack.click(alice, channel.id, card, "Mark notified")
    await harness.settle()
    assert "PCI DSS*: notified" in harness.card(channel.id)


async def test_bystander_cannot_start_clocks_or_hold(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Leak")
    await harness.slack.command(harness.user("alice"), "/incident", f"assign commander <@{harness.user('alice').id}>",
                                channel=channel.id)
    await fake.join(bob, channel.id)
    for command in ("clock gdpr", "notified gdpr", "hold"):
        answer = await harness.slack.command(bob, "/incident", command, channel=channel.id)
        assert "Only the Incident Commander" in fake.text_of(answer.json), command
    answer = await harness.slack.command(bob, "/incident", "clock nonsense", channel=channel.id)
    assert "`gdpr`" in fake.text_of(answer.json)


async def test_legal_hold_keeps_deleted_text_and_verify_finds_tampering(harness: Harness, database_url: str) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Evidence")
    before_hold = await fake.say(alice, channel.id, "secret before the hold")
    await harness.settle()
    await fake.delete(channel.id, before_hold)
    await harness.settle()
    await harness.slack.command(alice, "/incident", "hold", channel=channel.id)
    await harness.settle()
    assert any("legal hold" in t for t in harness.bot_messages(channel.id))
    after_hold = await fake.say(alice, channel.id, "kept after the hold")
    await fake.say(alice, channel.id, "an ordinary message")
    await harness.settle()
    await fake.delete(channel.id, after_hold)
    await harness.settle()
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "irbot", "verify", "INC-1"], env=env, capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("INC-1: ") and " records, head " in ok.stdout
    exported = subprocess.run([sys.executable, "-m", "irbot", "export", "INC-1"], env=env, capture_output=True,
                              text=True, timeout=60).stdout
    assert "kept after the hold" in exported and "secret before the hold" not in exported
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE timeline_event SET text = 'an edited message' WHERE text = 'an ordinary message'"))
    engine.dispose()
    bad = subprocess.run([sys.executable, "-m", "irbot", "verify", "INC-1"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and "does not match" in bad.stderr and "record" in bad.stderr


async def test_the_readme_recipe_verifies_an_export(harness: Harness, database_url: str, tmp_path: Path) -> None:
    """A third party can check an export with nothing but the README's few lines of Python."""
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Recipe")
    await fake.say(alice, channel.id, "héllo, 世界")
    await harness.settle()
    export = tmp_path / "inc-1.jsonl"
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "irbot", "export", "INC-1", "-o", str(export)], env=env, check=True,
                   capture_output=True, timeout=60)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    recipe = readme.split("import hashlib, json", 1)[1].split("```", 1)[0]
    script = tmp_path / "recipe.py"
    script.write_text("import hashlib, json" + recipe.replace("inc-7.jsonl", str(export)), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("ok, head"), result.stderr
    lines = export.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["text"] = "changed"
    export.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "text changed" in (result.stderr + result.stdout)


async def test_a_declaration_whose_clock_cannot_be_stored_stores_and_owes_nothing(
        timed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The form's clocks are part of the declaration's unit of work: all of it commits, or none."""
    from sqlmodel import select

    from irbot.store import repo
    from irbot.store.models import Incident, OutboxItem
    harness, _clock = timed
    alice = harness.user("alice")
    add_clock = repo.add_clock

    async def failing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database refused the clock")

    monkeypatch.setattr(repo, "add_clock", failing)
    await harness.slack.command(alice, "/incident", "declare Card data", channel="general")
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Personal or payment data involved?": ["PCI DSS"]})
    await harness.settle()
    await harness.deliver_owed()
    async with harness.irbot.deps.db.reader() as session:
        assert (await session.execute(select(Incident.id))).scalars().all() == []
        assert (await session.execute(select(OutboxItem.id))).scalars().all() == []
    assert harness.incident_channels() == []

    monkeypatch.setattr(repo, "add_clock", add_clock)
    channel = await harness.declare("alice", "Card data", values={"Personal or payment data involved?": ["PCI DSS"]})
    assert "PCI DSS*: notify the payment brands by" in harness.card(channel.id)
