"""The door to the issue tracker: GitHub's REST issues API or Jira Cloud's REST API v3.

Plain aiohttp with typed dataclasses: irbot needs four calls per tracker (create, find by marker,
close/reopen), wants its own timeouts and its own retry (the engine's, which honours
``Retry-After``), and must never block the event loop; a full client library would bring its
own retry and models for hundreds of endpoints irbot does not use.

Every failure is a :class:`Refused`: ``final`` when asking again cannot help (401/403 token
refused, 404 repository or project missing, 400/422 rejected fields), with ``retry_after`` when
the tracker said when to come back (429, GitHub's secondary rate limit).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp

from irbot.config_tracker import TrackerSettings
from irbot.outbound.errors import Refused

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
SEARCH_PAGES = 5  # a marker is looked for among the issues changed since the item was made


@dataclass(frozen=True)
class Link:
    text: str
    url: str | None = None


@dataclass(frozen=True)
class NewIssue:
    title: str
    body: tuple[tuple[Link, ...], ...]  # paragraphs of text and links
    marker: str  # irbot:INC-7#2, in the body: a retry finds the issue by it
    labels: tuple[str, ...] = ()
    priority: str = "medium"
    assignee: str | None = None
    due: str | None = None  # YYYY-MM-DD


@dataclass(frozen=True)
class Issue:
    key: str  # acme/ops#12 or OPS-12
    url: str  # where a person opens it
    remote_id: str  # GitHub's issue number, Jira's issue key


class Tracker(Protocol):
    kind: str

    async def find(self, marker: str, since: datetime) -> Issue | None: ...
    async def create(self, issue: NewIssue) -> Issue: ...
    async def set_done(self, remote_id: str, done: bool) -> None: ...
    async def set_body(self, remote_id: str, issue: NewIssue) -> None: ...


def has_marker(text: str, marker: str) -> bool:
    """``irbot:INC-1#1`` is in ``text`` on its own (not as the start of ``irbot:INC-1#12``)."""
    return re.search(re.escape(marker) + r"(?![0-9])", text) is not None


def tracker_for(settings: TrackerSettings) -> Tracker:
    return GitHub(settings) if settings.kind == "github" else Jira(settings)


@dataclass
class _Http:
    what: str
    base: str
    headers: dict[str, str] = field(default_factory=dict)

    async def call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None) -> Any:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT, headers=self.headers) as session:
                async with session.request(method, self.base + path, json=json, params=params,
                                           allow_redirects=False) as response:
                    if 200 <= response.status < 300:
                        return await response.json() if response.status != 204 and response.content_length != 0 \
                            else None
                    raise _refusal(self.what, response.status, response.headers, await response.text())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Refused(self.what, "timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__) \
                from None


def _refusal(what: str, status: int, headers: Any, text: str) -> Refused:
    retry_after = _seconds(headers.get("Retry-After"))
    if status == 403 and headers.get("x-ratelimit-remaining") == "0":  # GitHub's primary rate limit
        reset = _seconds(headers.get("x-ratelimit-reset"))
        return Refused(what, "rate_limited", retry_after=max(0.0, reset - time.time()) if reset else 60.0)
    if status == 403 and "secondary rate limit" in text.lower():
        return Refused(what, "rate_limited", retry_after=retry_after or 60.0)
    if status == 429 or status >= 500:
        return Refused(what, f"http_{status}", retry_after=retry_after)
    return Refused(what, f"http_{status}", final=True)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class GitHub:
    kind = "github"

    def __init__(self, settings: TrackerSettings) -> None:
        assert settings.repository and settings.token
        self.repository = settings.repository
        self.http = _Http("github", settings.api_url, {
            "Authorization": f"Bearer {settings.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "irbot"})

    def _issue(self, data: dict[str, Any]) -> Issue:
        return Issue(key=f"{self.repository}#{data['number']}", url=data["html_url"], remote_id=str(data["number"]))

    async def find(self, marker: str, since: datetime) -> Issue | None:
        """Issues change when made, so the one made since ``since`` is among those updated since."""
        for page in range(1, SEARCH_PAGES + 1):
            found = await self.http.call("GET", f"/repos/{self.repository}/issues", params={
                "state": "all", "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "per_page": "100",
                "page": str(page), "sort": "created", "direction": "asc"})
            for data in found or []:
                if has_marker(data.get("body") or "", marker) and "pull_request" not in data:
                    return self._issue(data)
            if len(found or []) < 100:
                return None
        return None

    async def create(self, issue: NewIssue) -> Issue:
        labels = [*issue.labels, f"priority:{issue.priority}"]
        body: dict[str, Any] = {"title": issue.title, "body": _markdown(issue), "labels": labels}
        if issue.assignee:
            body["assignees"] = [issue.assignee]
        return self._issue(await self.http.call("POST", f"/repos/{self.repository}/issues", json=body))

    async def set_done(self, remote_id: str, done: bool) -> None:
        change = {"state": "closed", "state_reason": "completed"} if done else {"state": "open"}
        await self.http.call("PATCH", f"/repos/{self.repository}/issues/{remote_id}", json=change)

    async def set_body(self, remote_id: str, issue: NewIssue) -> None:
        await self.http.call("PATCH", f"/repos/{self.repository}/issues/{remote_id}", json={"body": _markdown(issue)})


def _markdown(issue: NewIssue) -> str:
    def part(link: Link) -> str:
        return f"[{link.text}]({link.url})" if link.url else link.text
    paragraphs = ["".join(part(link) for link in paragraph) for paragraph in issue.body]
    due = [f"Due: {issue.due}"] if issue.due else []
    return "\n\n".join([*paragraphs, *due, f"<!-- {issue.marker} -->"])


JIRA_PRIORITY = {"high": "High", "medium": "Medium", "low": "Low"}


class Jira:
    kind = "jira"

    def __init__(self, settings: TrackerSettings) -> None:
        assert settings.project and settings.token and settings.email
        self.settings = settings
        basic = base64.b64encode(f"{settings.email}:{settings.token}".encode()).decode()
        self.http = _Http("jira", settings.api_url, {"Authorization": f"Basic {basic}",
                                                     "Accept": "application/json", "User-Agent": "irbot"})

    def _issue(self, key: str) -> Issue:
        return Issue(key=key, url=f"{self.settings.api_url}/browse/{key}", remote_id=key)

    async def find(self, marker: str, since: datetime) -> Issue | None:
        # JQL reads dates in the account's time zone: a day's margin covers any zone.
        day = (since - timedelta(days=1)).strftime("%Y-%m-%d")
        jql = f'project = "{self.settings.project}" AND created >= "{day}" ORDER BY created ASC'
        token: str | None = None
        for _ in range(SEARCH_PAGES):
            params = {"jql": jql, "fields": "description", "maxResults": "100"}
            if token:
                params["nextPageToken"] = token
            found = await self.http.call("GET", "/rest/api/3/search/jql", params=params) or {}
            for data in found.get("issues", []):
                if has_marker(adf_text((data.get("fields") or {}).get("description")), marker):
                    return self._issue(data["key"])
            token = found.get("nextPageToken")
            if not token:
                return None
        return None

    async def create(self, issue: NewIssue) -> Issue:
        fields: dict[str, Any] = {
            "project": {"key": self.settings.project}, "issuetype": {"name": self.settings.issue_type},
            "summary": issue.title[:255], "description": _adf(issue), "labels": list(issue.labels),
            "priority": {"name": JIRA_PRIORITY.get(issue.priority, "Medium")}}
        if issue.assignee:
            fields["assignee"] = {"accountId": issue.assignee}
        if issue.due:
            fields["duedate"] = issue.due
        created = await self.http.call("POST", "/rest/api/3/issue", json={"fields": fields})
        return self._issue(created["key"])

    async def set_done(self, remote_id: str, done: bool) -> None:
        """Take the first transition into (or, reopening, out of) a status of category done."""
        listed = await self.http.call("GET", f"/rest/api/3/issue/{remote_id}/transitions") or {}
        for transition in listed.get("transitions", []):
            category = ((transition.get("to") or {}).get("statusCategory") or {}).get("key")
            if (category == "done") == done:
                await self.http.call("POST", f"/rest/api/3/issue/{remote_id}/transitions",
                                     json={"transition": {"id": transition["id"]}})
                return
        raise Refused("jira", "no_transition_to_done" if done else "no_transition_out_of_done", final=True)

    async def set_body(self, remote_id: str, issue: NewIssue) -> None:
        await self.http.call("PUT", f"/rest/api/3/issue/{remote_id}", json={"fields": {"description": _adf(issue)}})


def _adf(issue: NewIssue) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per body paragraph, links as link marks."""
    def node(link: Link) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "text", "text": link.text}
        if link.url:
            text["marks"] = [{"type": "link", "attrs": {"href": link.url}}]
        return text
    paragraphs = [[node(link) for link in paragraph if link.text] for paragraph in issue.body]
    paragraphs.append([{"type": "text", "text": issue.marker}])
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": p} for p in paragraphs if p]}


def adf_text(document: Any) -> str:
    """The plain text of an ADF document (or of a plain string, as older issues may hold)."""
    if isinstance(document, str):
        return document
    if isinstance(document, dict):
        own = document.get("text", "") if document.get("type") == "text" else ""
        return own + " ".join(adf_text(child) for child in document.get("content", []) or [])
    return ""
