"""Follow-ups: action items become GitHub issues, kept in step both ways, through the fake GitHub."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import aiohttp
import pytest

from irbot.faketracker import FakeGitHub
from irbot.fakeslack.harness import Harness
from irbot.services import followups
from irbot.services.postmortem import compile_postmortem, render
from irbot.store import repo
from irbot.work.engine import RetryPolicy

SECRET = "tracker-webhook-secret"
FAST = RetryPolicy(delays=(0.05, 0.1), give_up_after=240, timed_here=True)


def tracker_settings(github: FakeGitHub) -> str:
    return (f'[tracker]\nkind = "github"\napi_url = "{github.api_url}"\nrepository = "{github.repository}"\n'
            f'labels = ["incident-follow-up"]\n[tracker.people]\nU0CAROL = "carol-gh"\n')


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = await FakeGitHub(webhook_secret=SECRET).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def harness(start_harness, github: FakeGitHub) -> Harness:  # noqa: ANN001 - the conftest fixture
    running = await start_harness(settings=tracker_settings(github), env={
        "IRBOT_TRACKER_TOKEN": github.token, "IRBOT_TRACKER_WEBHOOK_SECRET": SECRET})
    running.irbot.deps.work.retry_as("tracker", FAST)
    github.webhook_url = f"http://127.0.0.1:{running.irbot.port}/tracker/webhook"
    return running


async def add_action(harness: Harness, channel: str, text: str, who: str = "alice") -> None:
    await harness.slack.command(harness.user(who), "/incident", f"action add {text}", channel=channel)
    await harness.settle()


def raw_bot_texts(harness: Harness, channel: str) -> list[str]:
    return [m.get("text", "") for m in harness.fake.messages(channel) if m.get("bot_id")]


async def until_webhooks_handled(harness: Harness, github: FakeGitHub) -> None:
    await github.webhooks_sent()
    await harness.settle()


async def test_an_action_item_becomes_one_issue_and_shows_its_link(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Add an alert on checkout latency <@U0CAROL> due 2030-01-31 priority high")
    [issue] = github.issues.values()
    assert issue["title"] == "Add an alert on checkout latency"
    assert "irbot:INC-1#1" in issue["body"] and "Checkout errors" in issue["body"] and "SEV-" in issue["body"]
    assert "Due: 2030-01-31" in issue["body"]
    assert {label["name"] for label in issue["labels"]} == {"incident-follow-up", "priority:high"}
    assert [a["login"] for a in issue["assignees"]] == ["carol-gh"]
    url = github.html_url(1)
    assert any(url in text and "acme/ops#1" in text for text in raw_bot_texts(harness, channel.id))
    answer = await harness.slack.command(harness.user("alice"), "/incident", "action list", channel=channel.id)
    assert url in json.dumps(answer.json) and "acme/ops#1" in json.dumps(answer.json)


async def test_an_unmapped_owner_leaves_the_issue_unassigned(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Slow search")
    await add_action(harness, channel.id, "Tune the index <@U0BOB>")
    [issue] = github.issues.values()
    assert issue["assignees"] == []


async def test_a_lost_answer_does_not_make_a_second_issue(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    github.lose_next_answer()
    await add_action(harness, channel.id, "Write the runbook")
    assert len(github.with_marker("irbot:INC-1#1")) == 1 and len(github.issues) == 1
    assert ("GET", "/repos/acme/ops/issues") in github.requests  # the retry looked before creating
    assert sum(1 for t in raw_bot_texts(harness, channel.id) if github.html_url(1) in t) == 1


async def test_429_and_5xx_are_retried_after_retry_after(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    github.fail_next(429, retry_after=1)
    github.fail_next(502)
    await add_action(harness, channel.id, "Add capacity")
    assert len(github.issues) == 1
    assert len(github.requests) == 4  # POST refused 429; GET (looking first) refused 502; GET; POST
    assert github.requests[-1] == ("POST", "/repos/acme/ops/issues")
    waited = github.request_times[1] - github.request_times[0]
    assert waited >= 0.95, f"retried after {waited:.2f}s although GitHub said Retry-After: 1"


async def test_closing_and_reopening_in_github_sets_the_item(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    github.close_issue(1, by="carol-gh")
    await until_webhooks_handled(harness, github)
    async with harness.irbot.deps.db.session() as session:
        [item] = await repo.actions_of(1, session=session)
    assert item.status == "completed"
    assert any("closed in GitHub" in t and "carol-gh" in t for t in harness.bot_messages(channel.id))
    github.reopen_issue(1, by="dave-gh")
    await until_webhooks_handled(harness, github)
    async with harness.irbot.deps.db.session() as session:
        [item] = await repo.actions_of(1, session=session)
        events = await repo.events_of(1, session=session)
    assert item.status == "pending"
    assert any("reopened in GitHub" in t for t in harness.bot_messages(channel.id))
    sources = [e.data.get("source") for e in events if e.kind == "action_status"]
    assert sources == ["github", "github"]


async def test_action_done_in_slack_closes_the_issue_once(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Rotate the keys")
    await harness.slack.command(harness.user("bob"), "/incident", "action done 1", channel=channel.id)
    await harness.settle()
    await until_webhooks_handled(harness, github)  # GitHub tells irbot of the close it made: nothing new
    assert github.issues[1]["state"] == "closed" and github.issues[1]["state_reason"] == "completed"
    assert not any("closed in GitHub" in t for t in harness.bot_messages(channel.id))
    assert github.deliveries and all(d.status == 200 for d in github.deliveries)


async def test_done_before_the_issue_exists_closes_it_when_made(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    github.fail_next(503)
    await harness.slack.command(harness.user("alice"), "/incident", "action add Patch the host", channel=channel.id)
    await harness.slack.command(harness.user("alice"), "/incident", "action done 1", channel=channel.id)
    await harness.settle()
    await until_webhooks_handled(harness, github)
    assert len(github.issues) == 1 and github.issues[1]["state"] == "closed"


async def post_webhook(harness: Harness, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{harness.irbot.port}/tracker/webhook"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status, await response.json()


async def test_a_badly_signed_webhook_changes_nothing(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    body = json.dumps(github.event("closed", {**github.issues[1], "state": "closed"}, "mallory")).encode()
    for signature in (None, github.signature(body, "wrong-secret"), "sha1=abc"):
        headers = {**github.event_headers(), **({"X-Hub-Signature-256": signature} if signature else {})}
        assert (await post_webhook(harness, body, headers))[0] == 401
    await harness.settle()
    async with harness.irbot.deps.db.session() as session:
        [item] = await repo.actions_of(1, session=session)
    assert item.status == "pending"


async def test_webhooks_about_other_issues_are_ignored(harness: Harness, github: FakeGitHub) -> None:
    await harness.declare("alice", "Checkout errors")
    stranger = {"number": 99, "state": "closed", "closed_at": "2030-01-01T00:00:00Z"}
    body = json.dumps(github.event("closed", stranger, "someone")).encode()
    status, answer = await post_webhook(harness, body, {**github.event_headers(),
                                                        "X-Hub-Signature-256": github.signature(body)})
    assert (status, answer["outcome"]) == (200, "ignored")
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    headers = {**github.event_headers(), "X-GitHub-Event": "ping", "X-Hub-Signature-256": github.signature(body)}
    assert (await post_webhook(harness, body, headers)) == (200, {"outcome": "ignored"})


async def test_an_older_tracker_event_loses_to_a_later_slack_change(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    await harness.slack.command(harness.user("bob"), "/incident", "action done 1", channel=channel.id)
    await until_webhooks_handled(harness, github)
    # Someone reopened it in GitHub before the Slack change; their event arrives only now.
    stale = {**github.issues[1], "state": "open", "updated_at": "2001-01-01T00:00:00Z"}
    body = json.dumps(github.event("reopened", stale, "carol-gh")).encode()
    status, answer = await post_webhook(harness, body, {**github.event_headers(),
                                                        "X-Hub-Signature-256": github.signature(body)})
    assert (status, answer["outcome"]) == (200, "stale")
    async with harness.irbot.deps.db.session() as session:
        [item] = await repo.actions_of(1, session=session)
    assert item.status == "completed" and github.issues[1]["state"] == "closed"
    async with harness.irbot.deps.db.session() as session:
        kinds = [e.kind for e in await repo.events_of(1, session=session)]
    assert "tracker_change_ignored" in kinds  # both changes are on the timeline; the later one won


async def test_a_refused_token_is_told_once_with_what_to_fix(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    github.token = "rotated"
    await add_action(harness, channel.id, "First follow-up")
    await add_action(harness, channel.id, "Second follow-up")
    told = [t for t in harness.bot_messages(channel.id) if "refused" in t]
    assert len(told) == 1 and "IRBOT_TRACKER_TOKEN" in told[0] and "http_401" in told[0]
    assert github.issues == {}
    assert sum(1 for r in github.requests if r[0] == "POST") == 2  # a 401 is not retried


async def test_a_private_incidents_issue_carries_only_its_ref(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Credential leak at vendor", values={"Incident type": "Security"})
    await add_action(harness, channel.id, "Rotate the vendor keys")
    [issue] = github.issues.values()
    assert "INC-1" in issue["body"] and "Credential leak" not in issue["body"]
    assert "slack.com" not in issue["body"] and channel.name not in issue["body"]


async def test_the_postmortem_links_the_issue(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    async with harness.irbot.deps.db.session() as session:
        incident = await repo.get_incident(1, session=session)
    text = render(await compile_postmortem(incident, harness.irbot.deps, online=False), harness.irbot.deps)
    assert f"[acme/ops\\#1]({github.html_url(1)})" in text or f"[acme/ops#1]({github.html_url(1)})" in text
    assert followups.marker(incident, type("I", (), {"number": 1})()) == "irbot:INC-1#1"


async def test_while_github_is_down_one_item_probes_and_all_follow_once(harness: Harness, github: FakeGitHub) -> None:
    harness.irbot.deps.work.retry_as("tracker", RetryPolicy(delays=(0.3,), give_up_after=None, timed_here=True))
    channels = [await harness.declare("alice", f"Outage {n}") for n in range(2)]
    github.down = True
    for n in range(6):
        await harness.slack.command(harness.user("alice"), "/incident", f"action add Follow-up {n}",
                                    channel=channels[n % 2].id)
    await asyncio.sleep(1.5)  # not settle(): the probe's timer keeps running while GitHub is down
    tried = len(github.requests)
    # each item tries once as it is added, then one probe every 0.3 s; without the gate each item would retry
    assert tried <= 6 + 6, f"{tried} tries while down: the items did not wait for one probe"
    github.down = False
    for _ in range(100):
        if len(github.issues) == 6:
            break
        await asyncio.sleep(0.05)
    await harness.settle()
    assert len(github.issues) == 6
    for n in range(6):
        incident, number = n % 2 + 1, n // 2 + 1
        assert len(github.with_marker(f"irbot:INC-{incident}#{number}")) == 1


async def test_publishing_the_postmortem_links_it_from_each_issue(harness: Harness, github: FakeGitHub) -> None:
    channel = await harness.declare("alice", "Checkout errors")
    await add_action(harness, channel.id, "Fix the retry storm")
    assert "the post-mortem](" not in github.issues[1]["body"]
    await harness.slack.command(harness.user("alice"), "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    await add_action(harness, channel.id, "Add a canary")  # made after: its body links it from the start
    for issue in github.issues.values():
        assert "[the post-mortem](http" in issue["body"], issue["body"]
    # the rewritten body keeps its marker
    assert len(github.with_marker("irbot:INC-1#1")) == 1 and len(github.with_marker("irbot:INC-1#2")) == 1
