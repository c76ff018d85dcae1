"""Follow-ups in Jira Cloud: the same contract as GitHub, through the fake Jira."""

from __future__ import annotations

import json
from typing import AsyncIterator

import aiohttp
import pytest

from irbot.faketracker import FakeJira
from irbot.fakeslack.harness import Harness
from irbot.outbound.tracker import adf_text
from irbot.store import repo
from irbot.work.engine import RetryPolicy

SECRET = "jira-webhook-secret"
CAROL = "712020:carol"


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    fake = await FakeJira(webhook_secret=SECRET).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def harness(start_harness, jira: FakeJira) -> Harness:  # noqa: ANN001 - the conftest fixture
    settings = (f'[tracker]\nkind = "jira"\napi_url = "{jira.api_url}"\nproject = "OPS"\nemail = "{jira.email}"\n'
                f'labels = ["incident-follow-up"]\n[tracker.people]\nU0CAROL = "{CAROL}"\n')
    running = await start_harness(settings=settings, env={"IRBOT_TRACKER_TOKEN": jira.token,
                                                          "IRBOT_TRACKER_WEBHOOK_SECRET": SECRET})
    running.irbot.deps.work.retry_as("tracker", RetryPolicy(delays=(0.05,), give_up_after=240, timed_here=True))
    jira.webhook_url = f"http://127.0.0.1:{running.irbot.port}/tracker/webhook"
    return running


async def add_action(harness: Harness, channel: str, text: str) -> None:
    await harness.slack.command(harness.user("alice"), "/incident", f"action add {text}", channel=channel)
    await harness.settle()


async def item_status(harness: Harness) -> str:
    async with harness.irbot.deps.db.session() as session:
        [item] = await repo.actions_of(1, session=session)
    return item.status


async def test_an_action_item_becomes_a_jira_issue(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Add an alert <@U0CAROL> due 2030-01-31 priority low")
    [issue] = jira.issues.values()
    fields = issue["fields"]
    assert issue["key"] == "OPS-1" and fields["summary"] == "Add an alert"
    assert fields["issuetype"] == {"name": "Task"} and fields["priority"] == {"name": "Low"}
    assert fields["duedate"] == "2030-01-31" and fields["assignee"] == {"accountId": CAROL}
    assert fields["labels"] == ["incident-follow-up"]
    assert fields["description"]["type"] == "doc" and len(jira.with_marker("irbot:INC-1#1")) == 1
    texts = [m.get("text", "") for m in harness.fake.messages(channel.id) if m.get("bot_id")]
    assert any(f"{jira.api_url}/browse/OPS-1" in t and "Jira" in t for t in texts)


async def test_a_lost_answer_is_found_by_search(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    jira.lose_next_answer()
    await add_action(harness, channel.id, "Write the runbook")
    assert len(jira.issues) == 1
    assert ("GET", "/rest/api/3/search/jql") in jira.requests


async def test_done_in_jira_and_back_sets_the_item(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    jira.transition("OPS-1", "In Progress")  # not a change into or out of done: nothing to do
    await jira.webhooks_sent()
    await harness.settle()
    assert await item_status(harness) == "pending"
    jira.transition("OPS-1", "Done", by="Carol Chen")
    await jira.webhooks_sent()
    await harness.settle()
    assert await item_status(harness) == "completed"
    assert any("closed in Jira" in t and "Carol Chen" in t for t in harness.bot_messages(channel.id))
    jira.transition("OPS-1", "To Do")
    await jira.webhooks_sent()
    await harness.settle()
    assert await item_status(harness) == "pending"


async def test_action_done_in_slack_transitions_the_issue_to_done(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Rotate the keys")
    await harness.slack.command(harness.user("alice"), "/incident", "action done 1", channel=channel.id)
    await harness.settle()
    await jira.webhooks_sent()
    await harness.settle()
    assert jira.issues["OPS-1"]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert not any("closed in Jira" in t for t in harness.bot_messages(channel.id))


async def test_a_badly_signed_jira_webhook_changes_nothing(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    issue = jira.issues["OPS-1"]
    event = jira.event({**issue, "fields": {**issue["fields"], "status": {"id": "10002", "name": "Done",
                                                                          "statusCategory": {"key": "done"}}}},
                       issue["fields"]["status"], "Mallory")
    body = json.dumps(event).encode()
    url = f"http://127.0.0.1:{harness.irbot.port}/tracker/webhook"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Hub-Signature": jira.signature(body, "wrong")},
                        {"X-Hub-Signature-256": jira.signature(body)}):  # GitHub's header does not count
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 401
        async with session.post(url, data=body, headers={"X-Hub-Signature": jira.signature(body)}) as response:
            assert response.status == 200 and (await response.json())["outcome"] == "applied"
    await harness.settle()
    assert await item_status(harness) == "completed"


async def test_a_refused_jira_token_is_told_once(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    jira.token = "revoked"
    await add_action(harness, channel.id, "One")
    await add_action(harness, channel.id, "Two")
    told = [t for t in harness.bot_messages(channel.id) if "refused" in t]
    assert len(told) == 1 and "Atlassian API token" in told[0]


async def test_the_postmortem_link_reaches_the_jira_description(harness: Harness, jira: FakeJira) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    await harness.slack.command(harness.user("alice"), "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    description = jira.issues["OPS-1"]["fields"]["description"]
    links = [m["attrs"]["href"] for p in description["content"] for n in p["content"] for m in n.get("marks", [])]
    assert any(link.startswith("http") and "slack" in link for link in links), links
    assert "irbot:INC-1#1" in adf_text(description)
