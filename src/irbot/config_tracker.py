"""``[tracker]``: where action items become issues (GitHub or Jira), parsed and checked at start.

Kept apart from ``config.py`` so the tracker's rules sit in one place; ``config.py`` calls
:func:`parse_tracker` and :func:`tracker_from_env` and turns :class:`TrackerProblem` into its
one-line ``ConfigError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

KINDS = ("github", "jira")
DEFAULT_API_URL = {"github": "https://api.github.com"}
_KEYS = {"kind", "api_url", "repository", "project", "issue_type", "email", "token", "webhook_secret", "labels",
         "people"}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PROJECT = re.compile(r"^[A-Z][A-Z0-9_]+$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class TrackerProblem(ValueError):
    """What is wrong with ``[tracker]``, in one line naming the key."""


@dataclass(frozen=True)
class TrackerSettings:
    kind: str
    api_url: str
    token: str | None = None
    webhook_secret: str | None = None
    repository: str | None = None  # github: owner/name
    project: str | None = None  # jira: project key
    issue_type: str = "Task"  # jira
    email: str | None = None  # jira: basic auth is email + API token
    labels: tuple[str, ...] = ()
    people: Mapping[str, str] = field(default_factory=dict)  # Slack user id → GitHub login / Jira accountId

    def assignee(self, slack_user: str | None) -> str | None:
        return self.people.get(slack_user) if slack_user else None


def parse_tracker(value: Any) -> TrackerSettings:
    if not isinstance(value, dict):
        raise TrackerProblem("[tracker] must be a table")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise TrackerProblem(f"tracker: unknown key {unknown[0]!r}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise TrackerProblem(f"tracker.kind must be \"github\" or \"jira\", got {kind!r}")
    api_url = value.get("api_url", DEFAULT_API_URL.get(kind))
    if not isinstance(api_url, str) or not re.match(r"^https?://[^/\s]+", api_url):
        raise TrackerProblem("tracker.api_url must be an http(s) URL" + (" (your Jira site, "
                             "e.g. https://acme.atlassian.net)" if kind == "jira" and api_url is None else ""))
    settings = TrackerSettings(kind=kind, api_url=api_url.rstrip("/"),
                               token=_optional_string(value, "token"),
                               webhook_secret=_optional_string(value, "webhook_secret"),
                               labels=_labels(value.get("labels", [])), people=_people(value.get("people", {})))
    if kind == "github":
        return _github(settings, value)
    return _jira(settings, value)


def _github(settings: TrackerSettings, value: dict[str, Any]) -> TrackerSettings:
    for key in ("project", "issue_type", "email"):
        if key in value:
            raise TrackerProblem(f"tracker.{key} is for Jira; a GitHub tracker takes repository = \"owner/name\"")
    repository = value.get("repository")
    if not isinstance(repository, str) or not _REPOSITORY.match(repository):
        raise TrackerProblem("tracker.repository must be \"owner/name\" for a GitHub tracker")
    return replace(settings, repository=repository)


def _jira(settings: TrackerSettings, value: dict[str, Any]) -> TrackerSettings:
    if "repository" in value:
        raise TrackerProblem("tracker.repository is for GitHub; a Jira tracker takes project = \"KEY\"")
    project = value.get("project")
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise TrackerProblem("tracker.project must be a Jira project key such as \"OPS\"")
    email = value.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise TrackerProblem("tracker.email must be the Atlassian account's email (Jira uses it with the token)")
    issue_type = value.get("issue_type", "Task")
    if not isinstance(issue_type, str) or not issue_type.strip():
        raise TrackerProblem("tracker.issue_type must be the name of an issue type, e.g. \"Task\"")
    return replace(settings, project=project, email=email, issue_type=issue_type)


def _optional_string(value: dict[str, Any], key: str) -> str | None:
    if key not in value:
        return None
    if not isinstance(value[key], str) or not value[key]:
        raise TrackerProblem(f"tracker.{key} must be a non-empty string")
    return value[key]


def _labels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() and " " not in v for v in value):
        raise TrackerProblem("tracker.labels must be a list of labels without spaces")
    return tuple(value)


def _people(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TrackerProblem("[tracker.people] must map Slack user ids to GitHub logins or Jira accountIds")
    for slack_user, login in value.items():
        if not _SLACK_USER.match(slack_user):
            raise TrackerProblem(f"tracker.people: {slack_user!r} is not a Slack user id (U…)")
        if not isinstance(login, str) or not login.strip():
            raise TrackerProblem(f"tracker.people.{slack_user} must be a GitHub login or Jira accountId")
    return dict(value)


def tracker_from_env(tracker: TrackerSettings | None, env: Mapping[str, str]) -> TrackerSettings | None:
    """IRBOT_TRACKER_TOKEN and IRBOT_TRACKER_WEBHOOK_SECRET win over the file; a tracker needs a token."""
    token, secret = env.get("IRBOT_TRACKER_TOKEN"), env.get("IRBOT_TRACKER_WEBHOOK_SECRET")
    if tracker is None:
        if token or secret:
            raise TrackerProblem("IRBOT_TRACKER_TOKEN is set but the settings file has no [tracker] section")
        return None
    tracker = replace(tracker, token=token or tracker.token, webhook_secret=secret or tracker.webhook_secret)
    if not tracker.token:
        raise TrackerProblem("tracker.token (or IRBOT_TRACKER_TOKEN) is required: irbot creates issues with it")
    return tracker
