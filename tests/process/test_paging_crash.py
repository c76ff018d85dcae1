"""kill -9 around a page: the trigger PagerDuty gets is one, and the channel is told once."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from irbot.fakepagerduty import FakePagerDuty

from .conftest import Scene

pytestmark = pytest.mark.slow
REPAIR_WAIT = 15.0  # the dead process's lease on the owed page (5 s), then the next sweep (2 s)
KEY = "d" * 32


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    fake = await FakePagerDuty().start()
    fake.add_service("Default on-call", KEY)
    yield fake
    await fake.stop()


def enable_paging(scene: Scene, pagerduty: FakePagerDuty) -> None:
    with scene.settings.open("a", encoding="utf-8") as settings:
        settings.write(f'\n[pagerduty]\nevents_url = "{pagerduty.events_url}"\nrouting_key = "{KEY}"\n')


@pytest.mark.parametrize("lands", [False, True], ids=["before-pagerduty-took-it", "after-pagerduty-took-it"])
async def test_killed_between_the_commit_and_the_page_pages_once(scene: Scene, pagerduty: FakePagerDuty,
                                                                 lands: bool) -> None:
    enable_paging(scene, pagerduty)
    bot = await scene.start()
    pagerduty.hold_next(2.0, lands=lands)
    await scene.submit_declare("alice", "Checkout down", {"Severity": "SEV-1"})
    await scene.eventually(lambda: pagerduty.held == 1, what="the trigger in flight")
    bot.kill()  # the page is committed as owed; the process dies with it in flight
    await scene.quiet(2.5)
    assert scene.query("SELECT state FROM outbox WHERE what = 'page:trigger'") == [("pending",)]
    await bot.start()
    await scene.eventually(lambda: len(pagerduty.incidents) == 1 and scene.query(
        "SELECT state FROM outbox WHERE what = 'page:trigger'") == [("done",)], timeout=REPAIR_WAIT,
        what="the page delivered after the restart")
    [channel] = scene.incident_channels()
    await scene.eventually(lambda: any("in PagerDuty for" in t for t in scene.bot_texts(channel)),
                           what="the channel told")
    await scene.quiet(3.0)
    assert len(pagerduty.incidents) == 1, "one PagerDuty incident"
    assert len(pagerduty.events_for("irbot-INC-1", "trigger")) == (2 if lands else 1), \
        "sent again only when the dead process may have sent it (PagerDuty folds it by its dedup key)"
    assert scene.query("SELECT triggers FROM page") == [(1,)]
    assert sum("in PagerDuty for" in t for t in scene.bot_texts(channel)) == 1
