"""The follow-ups part of ``irbot demo``: an action item becomes a GitHub issue (on the fake
GitHub) and closing the issue there completes the item in Slack."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from irbot.config_tracker import TrackerSettings
from irbot.faketracker.github import FakeGitHub

SECRET = "demo-webhook-secret"


async def play_followups(h: Any, t: Any, channel_id: str) -> None:
    """``h``: the demo's harness; ``t``: its transcript. The demo runs without a settings file, so
    this turns ``[tracker]`` on for the running irbot, as an operator's settings file would."""
    github = await FakeGitHub(webhook_secret=SECRET).start()
    try:
        carol = h.user("carol")
        tracker = TrackerSettings(kind="github", api_url=github.api_url, repository=github.repository,
                                  token=github.token, webhook_secret=SECRET, labels=("incident-follow-up",),
                                  people={carol.id: "carol-gh"})
        h.irbot.settings = h.irbot.deps.settings = replace(h.irbot.deps.settings, tracker=tracker)
        github.webhook_url = f"http://127.0.0.1:{h.irbot.port}/tracker/webhook"
        t.step("bob", "adds another action item; with [tracker] kind = \"github\" it becomes a GitHub issue")
        await h.slack.command(h.user("bob"), "/incident", f"action add Alert on payments-api 502 rate <@{carol.id}>",
                              channel=channel_id)
        await h.settle()
        t.show_new()
        for issue in github.issues.values():
            labels = ", ".join(label["name"] for label in issue["labels"])
            print(f"  [GitHub {github.repository}#{issue['number']}] “{issue['title']}” · assignee "
                  f"{issue['assignee']['login'] if issue['assignee'] else 'none'} · labels {labels} · {issue['html_url']}")
        t.step("carol", "fixes it and closes the issue in GitHub; GitHub's signed webhook reaches irbot")
        github.close_issue(1, by="carol-gh")
        await github.webhooks_sent()
        await h.settle()
        t.show_new()
    finally:
        await github.stop()
