"""``[tracker]``: a bad section stops irbot at start with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from irbot.config import ConfigError, load_settings

GITHUB = '[tracker]\nkind = "github"\nrepository = "acme/ops"\n'
JIRA = '[tracker]\nkind = "jira"\napi_url = "https://acme.atlassian.net"\nproject = "OPS"\nemail = "bot@acme.example"\n'


def load(tmp_path: Path, text: str, **env: str):  # noqa: ANN201
    path = tmp_path / "irbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"IRBOT_CONFIG": str(path), **env})


def test_github_with_the_token_from_the_environment(tmp_path: Path) -> None:
    tracker = load(tmp_path, GITHUB + '[tracker.people]\nU0CAROL001 = "carol-gh"\n',
                   IRBOT_TRACKER_TOKEN="t", IRBOT_TRACKER_WEBHOOK_SECRET="s").tracker
    assert (tracker.kind, tracker.api_url, tracker.repository, tracker.token, tracker.webhook_secret) == (
        "github", "https://api.github.com", "acme/ops", "t", "s")
    assert tracker.assignee("U0CAROL001") == "carol-gh" and tracker.assignee("U0BOB") is None


def test_jira_defaults_to_task(tmp_path: Path) -> None:
    tracker = load(tmp_path, JIRA + 'token = "x"\n').tracker
    assert (tracker.project, tracker.issue_type, tracker.email) == ("OPS", "Task", "bot@acme.example")


@pytest.mark.parametrize(("text", "names"), [
    ('[tracker]\nkind = "gitlab"\n', "tracker.kind"),
    ('[tracker]\nkind = "github"\ntoken = "x"\n', "tracker.repository"),
    ('[tracker]\nkind = "github"\nrepository = "not a repo"\ntoken = "x"\n', "tracker.repository"),
    (GITHUB + 'token = "x"\nproject = "OPS"\n', "tracker.project is for Jira"),
    (GITHUB, "IRBOT_TRACKER_TOKEN"),
    (GITHUB + 'token = "x"\nlabels = "one"\n', "tracker.labels"),
    (GITHUB + 'token = "x"\ncolour = "red"\n', "unknown key 'colour'"),
    (GITHUB + 'token = "x"\n[tracker.people]\ncarol = "carol-gh"\n', "not a Slack user id"),
    ('[tracker]\nkind = "jira"\nproject = "OPS"\nemail = "a@b"\ntoken = "x"\n', "tracker.api_url"),
    (JIRA.replace('project = "OPS"', 'project = "ops"') + 'token = "x"\n', "tracker.project"),
    (JIRA.replace('email = "bot@acme.example"\n', "") + 'token = "x"\n', "tracker.email"),
])
def test_a_bad_tracker_section_names_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.").replace("(", r"\(")):
        load(tmp_path, text)


def test_a_token_without_a_tracker_is_a_mistake(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[tracker\] section"):
        load(tmp_path, "", IRBOT_TRACKER_TOKEN="t")
