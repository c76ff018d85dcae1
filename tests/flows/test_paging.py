"""Paging through PagerDuty (Events API v2) and acknowledgements back from its V3 webhooks, against
the fake PagerDuty in irbot.fakepagerduty, over HTTP and Socket Mode, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import AsyncIterator

import aiohttp
import pytest
from sqlmodel import select

from irbot.fakepagerduty import FakePagerDuty, sign_webhook
from irbot.fakepagerduty.fake import post_webhook
from irbot.fakeslack.harness import FakeClock, Harness
from irbot.services import paging
from irbot.services.incidents import incident_in_channel
from irbot.services.postmortem import compile_postmortem
from irbot.services.report import incident_rows
from irbot.domain.report import Period
from irbot.store.models import Page

SECRET = "pd-webhook-secret-for-tests"


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    fake = FakePagerDuty()
    await fake.start()
    fake.add_service("Default on-call", "d" * 32)
    fake.add_service("Payments on-call", "p" * 32)
    fake.add_service("Escalation", "e" * 32)
    yield fake
    await fake.stop()


def settings(fake: FakePagerDuty, *, extra: str = "") -> str:
    return f"""
[pagerduty]
events_url = "{fake.events_url}"
routing_key = "{'d' * 32}"
page_on = ["SEV-1", "SEV-2"]
escalation_routing_key = "{'e' * 32}"
webhook_secret = "{SECRET}"
[[pagerduty.services]]
key = "payments"
name = "Payments on-call"
routing_key = "{'p' * 32}"
{extra}"""


@pytest.fixture
async def paged(start_harness, pagerduty: FakePagerDuty) -> tuple[Harness, FakePagerDuty, FakeClock]:  # noqa: ANN001
    clock = FakeClock()
    harness = await start_harness(settings=settings(pagerduty), clock=clock)
    paging.retry_pages(harness.irbot.deps.work, (0.05, 0.1, 0.2))
    return harness, pagerduty, clock


def webhook_url(harness: Harness) -> str:
    return harness.fake.app_url.replace("/slack/events", "/pagerduty/webhook")


async def declare(harness: Harness, title: str, severity: str = "SEV-1", **values: object) -> str:
    channel = await harness.declare("alice", title, values={"Severity": severity, **values})
    await harness.settle()
    return channel.id


async def resolve(harness: Harness, channel: str) -> None:
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "resolve", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Resolution summary (one line)": "Fixed"})
    await harness.settle()


def ref_of(harness: Harness, channel: str) -> str:
    name = harness.fake.channel(channel).name  # inc-<n>-…
    return f"INC-{name.split('-')[1]}"


async def pages(harness: Harness) -> list[Page]:
    async with harness.irbot.deps.db.reader() as session:
        return list((await session.execute(select(Page))).scalars().all())


async def test_a_sev1_declare_pages_the_default_service_as_the_contract_says(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    channel = await declare(harness, "Checkout is down")
    ref = ref_of(harness, channel)
    [event] = pd.events
    assert event["routing_key"] == "d" * 32
    assert event["event_action"] == "trigger" and event["dedup_key"] == f"irbot-{ref}"
    payload = event["payload"]
    assert payload["summary"] == f"[SEV-1] {ref} · Checkout is down"
    assert payload["source"] == "irbot" and payload["severity"] == "critical"
    assert payload["custom_details"]["severity"] == "SEV-1"
    assert payload["custom_details"]["status"] == "investigating"
    assert "commander" in payload["custom_details"]
    assert event["links"][0]["href"].endswith(f"channel={channel}")
    assert any("Paged *the default on-call service* in PagerDuty" in t for t in harness.bot_messages(channel))
    assert "the default on-call service: paged, not acknowledged yet" in harness.card(channel)
    [page] = await pages(harness)
    assert page.triggers == 1 and page.state == "triggered"


async def test_sev3_drills_and_private_incidents(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    await declare(harness, "Typo on the about page", severity="SEV-3")
    assert pd.events == [], "SEV-3 is not in page_on"
    alice = harness.user("alice")
    await harness.slack.command(alice, "/incident", "drill Practice outage", channel="general")
    await harness.settle()
    view = harness.slack.open_view(alice)
    await harness.slack.submit_view(alice, view["id"], {"Severity": "SEV-1"})
    await harness.settle()
    assert pd.events == [], "drills never page"
    channel = await declare(harness, "Leaked customer secrets", **{"Incident type": "Security"})
    [event] = pd.events
    ref = ref_of(harness, channel)
    assert event["payload"]["summary"] == f"[SEV-1] {ref} (private incident)"
    assert "Leaked" not in json.dumps(event) and "secrets" not in json.dumps(event)


async def test_resolution_resolves_every_page_and_a_reopen_pages_again(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    alice = harness.user("alice")
    channel = await declare(harness, "Payments failing")
    ref = ref_of(harness, channel)
    answer = await harness.slack.command(alice, "/incident", "page payments Card auth is failing", channel=channel)
    await harness.settle()
    assert "Paging *Payments on-call*" in harness.fake.text_of(answer.json)
    [trigger] = pd.events_for(f"irbot-{ref}-payments", "trigger")
    assert trigger["routing_key"] == "p" * 32
    assert trigger["payload"]["custom_details"]["message"] == "Card auth is failing"
    assert any(f"<@{alice.id}> paged *Payments on-call*" in t for t in harness.bot_messages(channel))
    again = await harness.slack.command(alice, "/incident", "page payments", channel=channel)
    await harness.settle()
    assert "already paged" in harness.fake.text_of(again.json)
    assert len(pd.events_for(f"irbot-{ref}-payments", "trigger")) == 1
    await resolve(harness, channel)
    assert len(pd.events_for(f"irbot-{ref}", "resolve")) == 1
    assert len(pd.events_for(f"irbot-{ref}-payments", "resolve")) == 1
    assert all(i.status == "resolved" for i in pd.incidents)
    await harness.slack.command(alice, "/incident", "status investigating", channel=channel)
    await harness.settle()
    assert len(pd.events_for(f"irbot-{ref}", "trigger")) == 2, "a reopen pages the default service again"
    assert len(pd.events_for(f"irbot-{ref}-payments", "trigger")) == 1


async def test_a_raise_into_page_on_pages_once(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    alice = harness.user("alice")
    channel = await declare(harness, "Slow search", severity="SEV-3")
    assert pd.events == []
    await harness.slack.command(alice, "/incident", "severity 2", channel=channel)
    await harness.settle()
    [event] = pd.events
    assert event["payload"]["severity"] == "error"
    await harness.slack.command(alice, "/incident", "severity 1", channel=channel)
    await harness.settle()
    assert len(pd.events) == 1, "SEV-2 → SEV-1 within page_on: the open page is not triggered again"


async def test_unknown_service_lists_the_known_ones(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    channel = await declare(harness, "Where is billing", severity="SEV-3")
    answer = await harness.slack.command(harness.user("bob"), "/incident", "page billing help", channel=channel)
    text = harness.fake.text_of(answer.json)
    assert "I don't know the PagerDuty service `billing`" in text and "`payments` (Payments on-call)" in text
    assert pd.events == []


async def test_webhook_acknowledgement_is_told_once_and_counts_as_time_to_acknowledge(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    channel = await declare(harness, "Database on fire")
    ref = ref_of(harness, channel)
    clock.advance(timedelta(minutes=3))
    url = webhook_url(harness)
    body = pd.webhook_body("incident.acknowledged", "acknowledged", f"irbot-{ref}", agent="Dana Oncall",
                           event_id="01EVENTACK")
    for _ in range(2):  # PagerDuty delivers the same event twice
        response = await post_webhook(url, body, sign_webhook(body, "old-secret", SECRET))
        assert response.status == 200
    await harness.settle()
    told = [t for t in harness.bot_messages(channel) if "acknowledged the page" in t]
    assert len(told) == 1, "the same event delivered twice is told once"
    assert "Dana Oncall acknowledged the page for Default on-call." in told[0]
    assert "acknowledged by Dana Oncall" in harness.card(channel)
    timeline = await harness.slack.command(harness.user("alice"), "/incident", "timeline", channel=channel)
    assert "Dana Oncall acknowledged the page" in harness.fake.text_of(timeline.json)
    incident = await incident_in_channel(harness.irbot.deps, channel)
    compiled = await compile_postmortem(incident, harness.irbot.deps, online=False)
    assert compiled.metrics.time_to_acknowledge == timedelta(minutes=3)
    async with harness.irbot.deps.db.reader() as session:
        [row] = await incident_rows(Period(None, clock() + timedelta(days=1)), session=session)
    assert row.acknowledge == 180.0, "irbot report counts the first acknowledgement too"


async def test_bad_or_missing_signatures_are_refused_and_nothing_is_stored(paged) -> None:  # noqa: ANN001
    harness, pd, _ = paged
    channel = await declare(harness, "Queue stuck")
    ref = ref_of(harness, channel)
    url = webhook_url(harness)
    body = pd.webhook_body("incident.acknowledged", "acknowledged", f"irbot-{ref}", agent="Mallory")
    assert (await post_webhook(url, body, sign_webhook(body, "wrong"))).status == 401
    assert (await post_webhook(url, body, None)).status == 401
    assert (await post_webhook(url, body + b" ", sign_webhook(body, SECRET))).status == 401
    unknown = pd.webhook_body("incident.acknowledged", "acknowledged", "somebody-elses-key", agent="X")
    assert (await post_webhook(url, unknown, sign_webhook(unknown, SECRET))).status == 200
    await harness.settle()
    assert not any("acknowledged the page" in t for t in harness.bot_messages(channel))
    [page] = await pages(harness)
    assert page.acknowledged_at is None
    resolved = pd.webhook_body("incident.resolved", "resolved", f"irbot-{ref}", agent="Erin")
    assert (await post_webhook(url, resolved, sign_webhook(resolved, SECRET))).status == 200
    await harness.settle()
    assert any("Erin resolved the page" in t for t in harness.bot_messages(channel))
    [page] = await pages(harness)
    assert page.state == "triggered", "a resolve in PagerDuty is told, not acted on"


async def test_429_and_5xx_are_retried_and_a_400_is_told_not_retried(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    pd.fail_next(429)
    pd.fail_next(503)
    channel = await declare(harness, "Flaky pager")
    for _ in range(4):
        clock.advance(timedelta(seconds=1))
        await harness.deliver_owed()
    assert pd.calls == 3 and len(pd.events) == 1
    assert len([t for t in harness.bot_messages(channel) if "in PagerDuty for" in t]) == 1
    pd.fail_next(400)
    await harness.slack.command(harness.user("bob"), "/incident", "page payments", channel=channel)
    await harness.settle()
    for _ in range(3):
        clock.advance(timedelta(seconds=5))
        await harness.deliver_owed()
    assert pd.calls == 4, "a 400 is not sent again"
    assert any("PagerDuty refused to trigger the page for *Payments on-call*" in t
               for t in harness.bot_messages(channel))


async def test_a_lost_answer_sends_the_trigger_again_without_a_second_incident(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    pd.lose_next_answer()
    channel = await declare(harness, "Lost in transit")
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        await harness.deliver_owed()
    assert len(pd.events) == 2 and len(pd.incidents) == 1, "PagerDuty folds the repeat by its dedup key"
    assert len([t for t in harness.bot_messages(channel) if "in PagerDuty for" in t]) == 1


async def test_escalation_pages_once_when_no_one_takes_command(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    channel = await declare(harness, "Nobody home")
    ref = ref_of(harness, channel)
    clock.advance(timedelta(minutes=16))
    await harness.fire_due_reminders()
    await harness.settle()
    [event] = pd.events_for(f"irbot-{ref}-escalation")
    assert event["routing_key"] == "e" * 32
    clock.advance(timedelta(hours=2))
    await harness.fire_due_reminders()
    assert len(pd.events_for(f"irbot-{ref}-escalation")) == 1
    assert any("no Incident Commander took the role" in t for t in harness.bot_messages(channel))


async def test_the_webhook_is_not_served_without_a_secret(start_harness, pagerduty) -> None:  # noqa: ANN001
    harness = await start_harness(env={"IRBOT_PAGERDUTY_ROUTING_KEY": "d" * 32})
    async with aiohttp.ClientSession() as session:
        async with session.post(webhook_url(harness), data=b"{}") as response:
            assert response.status == 404


RESPONDERS = """
[[responders]]
usergroup = "S0DBAS"
types = ["outage"]
severities = ["SEV-1"]
[[responders]]
users = ["U0ERIN"]
services = ["postgres"]
"""


async def test_responders_by_rule_are_invited_at_declare_and_when_severity_rises_into_the_rule(
        start_harness, pagerduty) -> None:  # noqa: ANN001
    harness = await start_harness(settings=settings(pagerduty) + RESPONDERS)
    harness.fake.usergroups.append({"id": "S0DBAS", "team_id": harness.fake.team_id, "handle": "dbas",
                                    "name": "DBAs", "is_usergroup": True, "date_delete": 0,
                                    "users": ["U0CAROL", "U0DAVE"], "user_count": 2})
    members = lambda channel: set(harness.fake.channel(channel).members)  # noqa: E731
    quiet = await declare(harness, "Slow reports", severity="SEV-2", **{"Affected services": "Postgres, reports"})
    assert "U0ERIN" in members(quiet), "services match by word, case-insensitively"
    assert not {"U0CAROL", "U0DAVE"} & members(quiet), "the DBA rule is for SEV-1 only"
    await harness.slack.command(harness.user("alice"), "/incident", "severity 1", channel=quiet)
    await harness.settle()
    assert {"U0CAROL", "U0DAVE"} <= members(quiet), "raised into the rule: the group's members are invited"
    loud = await declare(harness, "Everything down", severity="SEV-1")
    assert {"U0CAROL", "U0DAVE"} <= members(loud) and "U0ERIN" not in members(loud)
    assert any(c[0] == "usergroups.users.list" for c in harness.fake.calls)


async def test_a_pagerduty_that_keeps_failing_is_given_up_and_the_channel_told(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    pd.fail_next(503, count=20)
    channel = await declare(harness, "PagerDuty is down too")
    for _ in range(6):
        clock.advance(timedelta(seconds=1))
        await harness.deliver_owed()
    assert pd.events == [] and pd.calls == 4, "three retries after the first try, then given up"
    told = [t for t in harness.bot_messages(channel) if "could not reach PagerDuty" in t]
    assert len(told) == 1 and "Page the on-call people another way" in told[0]


async def test_no_escalation_once_someone_took_command_nor_for_severities_that_do_not_page(paged) -> None:  # noqa: ANN001
    harness, pd, clock = paged
    alice = harness.user("alice")
    commanded = await declare(harness, "Handled")
    await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=commanded)
    await declare(harness, "Minor", severity="SEV-3")
    await harness.settle()
    clock.advance(timedelta(hours=5))
    await harness.fire_due_reminders()
    assert not [e for e in pd.events if e["dedup_key"].endswith("-escalation")]
