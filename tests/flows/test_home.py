"""The Home tab: published when the person opens it, republished (paced) when their incidents change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from irbot.fakeslack.harness import FakeClock, Harness
from irbot.fakeslack.fake.validation import check_view
from irbot.services import home
from irbot.views.ids import Action


@pytest.fixture(autouse=True)
def quick_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(home, "REFRESH_EVERY", 0.3)


def home_text(harness: Harness, who: str) -> str:
    view = harness.fake.home_view(who)
    assert view is not None, "no Home tab published"
    assert view["type"] == "home" and not view.get("submit") and not view.get("close")
    assert check_view(view) == [] and len(view["blocks"]) <= 100
    return "\n".join(harness.fake.text_of({"blocks": [b]}) for b in view["blocks"])


async def open_home(harness: Harness, who: str) -> str:
    await harness.slack.open_home(harness.user(who))
    await harness.settle()
    return home_text(harness, who)


async def test_home_shows_incidents_roles_and_action_items(start_harness) -> None:  # noqa: ANN001
    clock = FakeClock()
    harness: Harness = await start_harness(clock=clock)
    fake, alice = harness.fake, harness.user("alice")
    first = await harness.declare("alice", "Checkout errors", values={"Severity": "SEV-1"})
    await harness.declare("bob", "Slow search")
    await harness.declare("bob", "Leaked key", values={"Incident type": "security"})
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=first.id)
    yesterday = (clock.now - timedelta(days=1)).date().isoformat()
    later = (clock.now + timedelta(days=3)).date().isoformat()
    await harness.slack.command(alice, "/incident", f"action add Add retries <@{alice.id}> due {yesterday}",
                                channel=first.id)
    await harness.slack.command(alice, "/incident", f"action add Write runbook <@{alice.id}> due {later}",
                                channel=first.id)
    await harness.settle()

    text = await open_home(harness, "alice")
    assert "Declare incident" in text
    assert "INC-1" in text and "Checkout errors" in text and "SEV-1" in text and "Investigating" in text
    assert "INC-2" in text and "Slow search" in text
    assert "INC-3" not in text and "Leaked key" not in text, "a private incident only to its members"
    assert f"<#{first.id}>" in str(fake.home_view("alice"))
    assert "You are *Incident Commander*" in text
    overdue_line = next(line for line in text.splitlines() if "Add retries" in line)
    assert "overdue" in overdue_line and yesterday in overdue_line
    runbook_line = next(line for line in text.splitlines() if "Write runbook" in line)
    assert "overdue" not in runbook_line and later in runbook_line
    assert [c for c in fake.calls if c[0] == "views.publish"][-1][2]["ok"]

    bob_text = await open_home(harness, "bob")
    assert "INC-3" in bob_text and "Leaked key" in bob_text and "No open action items" in bob_text


async def test_the_home_declare_button_opens_the_form(harness: Harness) -> None:
    await open_home(harness, "carol")
    view = harness.fake.home_view("carol")
    assert view is not None
    response = await harness.slack.click_in_view(harness.user("carol"), view["id"], action_id=Action.HOME_DECLARE)
    assert response.status == 200
    await harness.settle()
    form = harness.slack.open_view(harness.user("carol"))
    assert form is not None and form["title"]["text"] == "Declare an incident"


async def test_home_is_republished_when_their_incident_changes_paced(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Disk full")
    await open_home(harness, "alice")
    publishes = len(fake.calls_to("views.publish"))
    for severity in ("2", "1"):
        await harness.slack.command(alice, "/incident", f"severity {severity}", channel=channel.id)
    await harness.settle()
    calls = fake.calls_to("views.publish")
    assert 1 <= len(calls) - publishes <= 2, "a burst of changes: at most one now and one after the pause"
    assert "SEV-1" in home_text(harness, "alice")
    await harness.slack.command(harness.user("bob"), "/incident", "note bystander", channel=channel.id)
    await harness.settle()
    assert all(c[1].get("user_id") != harness.user("bob").id for c in fake.calls_to("views.publish")), \
        "only people with a Home tab who are part of the incident"


async def test_an_action_item_given_to_someone_reaches_their_home(harness: Harness) -> None:
    channel = await harness.declare("alice", "Flaky deploys")
    await open_home(harness, "carol")
    assert "No open action items" in home_text(harness, "carol")
    carol = harness.user("carol")
    await harness.slack.command(harness.user("alice"), "/incident", f"action add Pin the base image <@{carol.id}>",
                                channel=channel.id)
    await harness.settle()
    text = home_text(harness, "carol")
    assert "Pin the base image" in text and "no due date" in text
