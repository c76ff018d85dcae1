"""``irbot serve`` as the container image runs it: the Dockerfile's environment (bytecode without
docstrings or asserts, no column ranges in tracebacks, two malloc arenas; docs/operations.md,
"Memory") changes nothing people see, from the declare to the post-mortem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rigs.image import image_env

from .conftest import Scene

pytestmark = pytest.mark.slow


async def test_a_whole_incident_under_the_images_environment(scene: Scene) -> None:
    env = image_env()
    assert env["PYTHONOPTIMIZE"] == "2" and env["PYTHONNODEBUGRANGES"] == "1"
    bot = await scene.start(extra_env=env)
    given = Path(f"/proc/{bot.pid}/environ").read_bytes().split(b"\0")
    assert b"PYTHONOPTIMIZE=2" in given and b"PYTHONNODEBUGRANGES=1" in given

    channel = (await scene.declare("alice", "Checkout fails under the image")).id
    await scene.take("alice", channel)
    alice = scene.user("alice")
    await scene.fake.say(alice, channel, "rolled back the deploy")
    await scene.fake.events_delivered()
    view = await scene.open_form("alice", "resolve", channel)
    await scene.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Rolled back"})
    await scene.eventually(lambda: "*Status*\nResolved" in scene.card(channel), what="resolved")
    assert any("Resolved" in text for text in scene.announcements(channel))
    await scene.slack.command(alice, "/incident", "postmortem", channel=channel)
    await scene.eventually(lambda: [m for m in scene.fake.messages(channel) if m.get("files") and m.get("bot_id")],
                           what="the post-mortem shared")
    document = scene.upload_text(channel)
    assert document.count("rolled back the deploy") == 1
    assert "Rolled back" in document
    assert "Traceback" not in bot.log_text()
