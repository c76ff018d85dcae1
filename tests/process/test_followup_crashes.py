"""kill -9 while an action item's issue is being made: after the restart there is exactly one issue.

The fake GitHub runs in the test's event loop; ``irbot serve`` runs as a real process with
``[tracker]`` pointing at it. GitHub holds irbot's create call, irbot is killed meanwhile, and the
call then takes effect (the issue exists, irbot never heard) or never does (irbot died before it
was sent). The restarted irbot finishes the owed creation once its lease lapses: it finds the
issue by its marker, or makes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from irbot.faketracker import FakeGitHub

from .conftest import SETTINGS_TOML, Scene

pytestmark = pytest.mark.slow

REPAIR_WAIT = 15.0  # the dead process's lease (5 s), the sweep (2 s), the tracker's back-off


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = await FakeGitHub().start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings_file(tmp_path: Path, github: FakeGitHub) -> Path:
    path = tmp_path / "irbot.toml"
    path.write_text(SETTINGS_TOML + f'\n[tracker]\nkind = "github"\napi_url = "{github.api_url}"\n'
                    f'repository = "{github.repository}"\ntoken = "{github.token}"\n', encoding="utf-8")
    return path


async def _killed_while_creating(scene: Scene, github: FakeGitHub, *, lands: bool) -> str:
    bot = await scene.start()
    channel = await scene.declare("alice", "Checkout errors")
    github.hold_next(1.5, lands=lands)
    response = await scene.slack.command(scene.user("alice"), "/incident", "action add Write the runbook",
                                         channel=channel.id)
    assert response.status == 200
    await scene.eventually(lambda: github.holding == 1, what="the issue's creation in flight")
    bot.kill()
    assert scene.query("SELECT count(*) FROM action_item") == [(1,)], "the item was committed before the call"
    await scene.quiet(2.0)  # the held call lands (or not) while irbot is dead
    assert len(github.issues) == (1 if lands else 0)
    await bot.start()
    await scene.eventually(lambda: scene.query("SELECT count(*) FROM tracker_issue") == [(1,)],
                           timeout=REPAIR_WAIT, what="the issue recorded after the restart")
    return channel.id


async def test_killed_after_github_made_the_issue_finds_it(scene: Scene, github: FakeGitHub) -> None:
    channel = await _killed_while_creating(scene, github, lands=True)
    assert len(github.issues) == 1, "no second issue"
    assert ("GET", "/repos/acme/ops/issues") in github.requests  # looked for the marker first
    await scene.eventually(lambda: any(github.html_url(1) in m.get("text", "") for m in scene.bot_messages(channel)),
                           what="the link shown in the channel")


async def test_killed_before_the_call_landed_makes_it_once(scene: Scene, github: FakeGitHub) -> None:
    channel = await _killed_while_creating(scene, github, lands=False)
    assert len(github.issues) == 1
    await scene.eventually(lambda: sum(github.html_url(1) in m.get("text", "") for m in scene.bot_messages(channel))
                           == 1, what="the link shown once in the channel")
