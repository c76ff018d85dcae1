"""Alerts that cannot flood: a group's seen set is bounded, and new groups beyond
``[alerts] max_open`` or ``max_new_per_minute`` are listed in one "alert storm" incident."""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from irbot.store import repo
from irbot.fakeslack.harness import FakeClock, Harness
from tests.conftest import StartHarness

pytestmark = pytest.mark.http_only("Alertmanager reaches irbot over HTTP in both modes")

TOKEN = "alert-token-for-tests"


def alert(fingerprint: str, name: str = "CheckoutErrors", status: str = "firing") -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "severity": "warning", "instance": fingerprint},
            "annotations": {"summary": f"{name} on {fingerprint}"}, "fingerprint": fingerprint}


def notification(group: str, alerts: list[dict[str, Any]], status: str = "firing",
                 truncated: int = 0) -> dict[str, Any]:
    name = alerts[0]["labels"]["alertname"]
    return {"version": "4", "groupKey": group, "status": status, "receiver": "irbot", "groupLabels": {},
            "commonLabels": {"alertname": name}, "commonAnnotations": {"summary": f"{name} firing"},
            "externalURL": "http://alertmanager.example", "truncatedAlerts": truncated, "alerts": alerts}


def group_of(name: str, *fingerprints: str, status: str = "firing") -> dict[str, Any]:
    return notification(f"{{}}:{{alertname=\"{name}\"}}", [alert(f, name, status) for f in fingerprints or (name,)],
                        status)


async def post_alert(harness: Harness, body: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{harness.irbot.port}/alerts/alertmanager",
                                data=json.dumps(body).encode(), headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def start(start_harness: StartHarness, settings: str = "", **kwargs: Any) -> Harness:
    return await start_harness(settings=f'admins = ["U0ALICE"]\n{settings}', env={"IRBOT_ALERT_TOKEN": TOKEN},
                               **kwargs)


async def settled(harness: Harness) -> None:
    """Background work done, and what waited for an incident's set-up delivered (the outbox sweep's job)."""
    await harness.settle()
    await harness.deliver_owed()


def listings(harness: Harness, channel: str) -> list[str]:
    return [t for t in harness.bot_messages(channel) if "Alertmanager" in t]


def announcements(harness: Harness) -> list[str]:
    return harness.bot_messages(harness.fake.channel_by_name("incidents").id)


# --- item 10: one group cannot grow without bound ----------------------------------------------------------

async def test_a_groups_seen_set_is_bounded_and_the_channel_is_told_once_when_it_is_full(
        start_harness: StartHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from irbot.services import alerts
    monkeypatch.setattr(alerts, "MAX_SEEN_PER_GROUP", 500, raising=False)
    harness = await start(start_harness)
    batches = [[f"fp{n}" for n in range(start, start + 200)] for start in range(0, 1000, 200)]
    answers = [await post_alert(harness, group_of("Flood", *batch)) for batch in batches]
    await settled(harness)
    assert [a["action"] for a in answers] == ["declared", "updated", "updated", "ignored", "ignored"]
    [channel] = harness.incident_channels()
    said = listings(harness, channel)
    assert len(said) == 3, said
    assert "200 alerts firing" in said[0] and "…and 180 more" in said[0]
    assert "100 new alerts firing" in said[2] and "500 alerts" in said[2] and "no longer lists" in said[2]
    async with harness.irbot.deps.db.reader() as session:
        assert await repo.alert_seen_count('{}:{alertname="Flood"}', session=session) == 500
    # The whole flood again lists nothing: every alert irbot remembers was told already.
    assert (await post_alert(harness, group_of("Flood", *batches[0], *batches[4])))["action"] == "ignored"
    await settled(harness)
    assert len(listings(harness, channel)) == 3


async def test_one_notification_lists_at_most_twenty_and_counts_what_alertmanager_left_out(
        start_harness: StartHarness) -> None:
    harness = await start(start_harness)
    fingerprints = [f"fp{n}" for n in range(700)]
    body = notification('{}:{alertname="Wide"}', [alert(f, "Wide") for f in fingerprints], truncated=50)
    assert (await post_alert(harness, body))["action"] == "declared"
    await settled(harness)
    [channel] = harness.incident_channels()
    [said] = listings(harness, channel)
    assert "750 alerts firing" in said and "…and 730 more" in said
    assert set(re.findall(r"Wide on (fp\d+)", said)) == {f"fp{n}" for n in range(20)}
    # irbot reads the first MAX_ALERTS_READ of a notification; the rest are not remembered or listed again.
    from irbot.services.alerts import MAX_ALERTS_READ
    async with harness.irbot.deps.db.reader() as session:
        assert await repo.alert_seen_count('{}:{alertname="Wide"}', session=session) == MAX_ALERTS_READ
    assert (await post_alert(harness, body))["action"] == "ignored"


# --- item 11: no more than max_open incidents, no more than max_new_per_minute -----------------------------

async def test_groups_beyond_max_open_are_listed_once_in_one_storm_incident(start_harness: StartHarness) -> None:
    harness = await start(start_harness, "[alerts]\nmax_open = 2\nmax_new_per_minute = 100\n")
    answers = [await post_alert(harness, group_of(f"G{n}")) for n in range(1, 7)]
    await settled(harness)
    assert [a["action"] for a in answers] == ["declared", "declared", "storm", "storm", "storm", "storm"]
    assert [a["incident"] for a in answers] == ["INC-1", "INC-2", "INC-3", "INC-3", "INC-3", "INC-3"]
    channels = harness.incident_channels()
    assert len(channels) == 3, "two incidents and one storm, not six channels"
    storm = channels[2]
    said = announcements(harness)
    assert len(said) == 3 and "Alert storm" in said[2], said
    storm_said = harness.bot_messages(storm)
    assert any("max_open = 2" in t for t in storm_said), storm_said
    for name in ("G3", "G4", "G5", "G6"):
        assert len([t for t in storm_said if f"G{name[1]} firing" in t]) == 1, (name, storm_said)
    # The same alerts again list nothing; a new alert of a stormed group is listed in the storm.
    assert (await post_alert(harness, group_of("G4")))["action"] == "ignored"
    assert (await post_alert(harness, group_of("G5", "G5", "G5-b")))["action"] == "updated"
    assert (await post_alert(harness, group_of("G6", status="resolved")))["action"] == "resolved"
    await settled(harness)
    added = harness.bot_messages(storm)[len(storm_said):]
    assert len(added) == 2 and "G5-b" in added[0] and "G5 firing" in added[0], added
    assert "G6 firing" in added[1] and "cleared" in added[1], added
    assert len(harness.incident_channels()) == 3 and len(announcements(harness)) == 3

    # Once the storm is resolved, the next group beyond the cap starts a new storm.
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "resolve", channel=storm)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "storm over"})
    await settled(harness)
    assert (await post_alert(harness, group_of("G7")))["incident"] == "INC-4"
    await settled(harness)
    assert len(harness.incident_channels()) == 4 and "Alert storm" in announcements(harness)[-1]


async def test_many_groups_at_once_open_max_open_incidents_and_one_storm(start_harness: StartHarness) -> None:
    harness = await start(start_harness, "[alerts]\nmax_open = 3\nmax_new_per_minute = 100\n")
    answers = await asyncio.gather(*(post_alert(harness, group_of(f"Burst{n}")) for n in range(12)))
    await settled(harness)
    assert sorted(a["action"] for a in answers) == ["declared"] * 3 + ["storm"] * 9
    channels = harness.incident_channels()
    assert len(channels) == 4 and len(announcements(harness)) == 4
    stormed = [t for t in harness.bot_messages(channels[-1]) if "firing" in t]
    assert len(stormed) == 9
    calls = len(harness.fake.calls)
    assert calls < 150, f"{calls} Slack calls for 12 groups"


async def test_groups_beyond_the_rate_wait_in_the_storm_and_later_ones_get_their_own(
        start_harness: StartHarness) -> None:
    clock = FakeClock()
    harness = await start(start_harness, "[alerts]\nmax_new_per_minute = 2\n", clock=clock)
    answers = [await post_alert(harness, group_of(f"R{n}")) for n in range(1, 4)]
    assert [a["action"] for a in answers] == ["declared", "declared", "storm"]
    await settled(harness)
    storm = harness.incident_channels()[2]
    assert any("max_new_per_minute = 2" in t for t in harness.bot_messages(storm))
    clock.advance(timedelta(seconds=61))
    assert (await post_alert(harness, group_of("R4")))["action"] == "declared"
    await settled(harness)
    assert len(harness.incident_channels()) == 4 and len(announcements(harness)) == 4


async def test_a_security_group_in_the_public_storm_is_counted_without_its_details(
        start_harness: StartHarness) -> None:
    harness = await start(start_harness, "[alerts]\nmax_open = 1\n")
    await post_alert(harness, group_of("First"))
    secret = group_of("SecretLeak", "s1", "s2")
    for item in secret["alerts"]:
        item["labels"]["type"] = "security"
    assert (await post_alert(harness, secret))["action"] == "storm"
    await settled(harness)
    storm = harness.fake.channel(harness.incident_channels()[1])
    assert not storm.is_private, "the storm is public: the announcement channel hears of it"
    said = harness.bot_messages(storm.id)
    [listed] = [t for t in said if "2 alerts firing" in t]
    assert "security alert group" in listed and "SecretLeak" not in listed and "s1" not in listed


async def test_a_very_long_group_key_or_fingerprint_is_stored_by_its_digest(start_harness: StartHarness) -> None:
    """PostgreSQL refuses index entries over ~2.7 kB: long keys must not become 500s."""
    harness = await start(start_harness)
    body = notification("{}:" + secrets.token_hex(3000), [alert(secrets.token_hex(3000), "Long")])  # incompressible
    assert (await post_alert(harness, body))["action"] == "declared"
    assert (await post_alert(harness, body))["action"] == "ignored"
    await settled(harness)
    assert len(harness.incident_channels()) == 1


async def test_a_body_over_a_mebibyte_is_refused_and_stores_nothing(start_harness: StartHarness) -> None:
    harness = await start(start_harness)
    body = json.dumps(notification("big", [alert(f"fp{n:07d}", "Big") for n in range(12000)])).encode()
    assert len(body) > 1024 * 1024
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{harness.irbot.port}/alerts/alertmanager", data=io.BytesIO(body),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 413
    await settled(harness)
    assert harness.incident_channels() == []


# --- one unit of work: a storm that fails to be filed leaves nothing behind --------------------------------

async def test_a_storm_whose_group_cannot_be_filed_declares_nothing_and_owes_nothing(
        start_harness: StartHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import select

    from irbot.store.models import Incident, OutboxItem
    harness = await start(start_harness, "[alerts]\nmax_open = 1\nmax_new_per_minute = 100\n")
    assert (await post_alert(harness, group_of("G1")))["action"] == "declared"
    await settled(harness)
    remember = repo.remember_fingerprints

    async def failing(key: str, *args: Any, **kwargs: Any) -> None:
        if "G2" in key:
            raise RuntimeError("the database refused the group's alerts")
        await remember(key, *args, **kwargs)

    monkeypatch.setattr(repo, "remember_fingerprints", failing)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{harness.irbot.port}/alerts/alertmanager",
                                data=json.dumps(group_of("G2")).encode(),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
            assert answer.status == 500, "Alertmanager is told to send the group again"
    await settled(harness)
    async with harness.irbot.deps.db.reader() as session:
        incidents = (await session.execute(select(Incident.number))).scalars().all()
        owed = (await session.execute(select(OutboxItem.incident_id).distinct())).scalars().all()
        assert await repo.alert_group('{}:{alertname="G2"}', session=session) is None
    assert list(incidents) == [1] and len(owed) == 1, "no storm incident, and nothing owed for one"
    assert len(harness.incident_channels()) == 1 and len(announcements(harness)) == 1

    monkeypatch.setattr(repo, "remember_fingerprints", remember)
    assert (await post_alert(harness, group_of("G2")))["incident"] == "INC-2"
    await settled(harness)
    storm = harness.incident_channels()[1]
    said = harness.bot_messages(storm)
    opened = [t for t in said if "New alert groups are listed here" in t]
    assert len(opened) == 1 and "max_open = 1" in opened[0], said
    assert len([t for t in said if "G2 firing" in t]) == 1, said
