"""A fake of GitHub's REST API for issues (the calls irbot makes), after docs.github.com:
``POST/GET /repos/{owner}/{repo}/issues``, ``GET/PATCH /repos/{owner}/{repo}/issues/{number}``,
Bearer token auth (401 ``Bad credentials``), 404 for a repository it does not know, 422
``Validation Failed``, and ``issues`` webhooks (``closed``/``reopened``) signed
``X-Hub-Signature-256``. A person acting in GitHub is :meth:`FakeGitHub.close_issue` /
:meth:`FakeGitHub.reopen_issue`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from irbot.faketracker.base import FakeServer
from irbot.outbound.tracker import has_marker

DOCS = "https://docs.github.com/rest/issues/issues"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeGitHub(FakeServer):
    repository: str = "acme/ops"
    token: str = "ghp-fake-token"
    logins: set[str] = field(default_factory=lambda: {"carol-gh", "dave-gh", "irbot-bot"})
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/repos/{owner}/{repo}/issues", self._create),
                web.get("/repos/{owner}/{repo}/issues", self._list),
                web.get("/repos/{owner}/{repo}/issues/{number}", self._get),
                web.patch("/repos/{owner}/{repo}/issues/{number}", self._update)]

    def error(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"message": message, "documentation_url": DOCS, "status": str(status)},
                                 status=status, headers=headers)

    def _check(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != self.token:
            return self.error(401, "Bad credentials")
        if f"{request.match_info['owner']}/{request.match_info['repo']}" != self.repository:
            return self.error(404, "Not Found")
        return None

    def html_url(self, number: int) -> str:
        return f"https://github.com/{self.repository}/issues/{number}"

    def with_marker(self, marker: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if has_marker(i["body"] or "", marker)]

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return self.error(400, "Problems parsing JSON")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return web.json_response({"message": "Validation Failed", "documentation_url": DOCS, "status": "422",
                                      "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}]},
                                     status=422)
        number = len(self.issues) + 1
        now = _now()
        # GitHub drops assignees who cannot be assigned, without an error.
        assignees = [{"login": a} for a in body.get("assignees") or [] if a in self.logins]
        issue = {"id": 1000 + number, "number": number, "title": title, "body": body.get("body"),
                 "state": "open", "state_reason": None, "html_url": self.html_url(number),
                 "url": f"{self.api_url}/repos/{self.repository}/issues/{number}",
                 "labels": [{"name": n} for n in body.get("labels") or []], "assignees": assignees,
                 "assignee": assignees[0] if assignees else None, "user": {"login": "irbot-bot"},
                 "created_at": now, "updated_at": now, "closed_at": None}
        self.issues[number] = issue
        return web.json_response(issue, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        state = request.query.get("state", "open")
        since = request.query.get("since")
        found = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        if since:
            found = [i for i in found if i["updated_at"] >= since]
        found.sort(key=lambda i: i[request.query.get("sort", "created") + "_at"],
                   reverse=request.query.get("direction", "desc") == "desc")
        per_page, page = min(int(request.query.get("per_page", "30")), 100), int(request.query.get("page", "1"))
        return web.json_response(found[(page - 1) * per_page: page * per_page])

    def _issue_or_404(self, request: web.Request) -> dict[str, Any] | web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        number = request.match_info["number"]
        if not number.isdigit() or int(number) not in self.issues:
            return self.error(404, "Not Found")
        return self.issues[int(number)]

    async def _get(self, request: web.Request) -> web.Response:
        found = self._issue_or_404(request)
        return found if isinstance(found, web.Response) else web.json_response(found)

    async def _update(self, request: web.Request) -> web.Response:
        found = self._issue_or_404(request)
        if isinstance(found, web.Response):
            return found
        body = await request.json()
        state = body.get("state")
        if state is not None and state not in ("open", "closed"):
            return web.json_response({"message": "Validation Failed", "documentation_url": DOCS, "status": "422",
                                      "errors": [{"resource": "Issue", "code": "invalid", "field": "state"}]},
                                     status=422)
        for key in ("title", "body"):
            if key in body:
                found[key] = body[key]
        if state is not None:
            self._set_state(found, state, body.get("state_reason"), by="irbot-bot")
        return web.json_response(found)

    def _set_state(self, issue: dict[str, Any], state: str, reason: str | None, *, by: str) -> None:
        if issue["state"] == state:
            return
        now = _now()
        issue.update(state=state, updated_at=now, closed_at=now if state == "closed" else None,
                     state_reason=(reason or "completed") if state == "closed" else "reopened")
        self.send_soon(self.event_headers(), self.event("closed" if state == "closed" else "reopened", issue, by))

    # ---- a person in GitHub ---------------------------------------------------------------------
    def close_issue(self, number: int, *, by: str = "carol-gh") -> None:
        self._set_state(self.issues[number], "closed", "completed", by=by)

    def reopen_issue(self, number: int, *, by: str = "carol-gh") -> None:
        self._set_state(self.issues[number], "open", None, by=by)

    def event_headers(self) -> dict[str, str]:
        return {"X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-GitHub-Hook-ID": "1", "User-Agent": "GitHub-Hookshot/fake"}

    def event(self, action: str, issue: dict[str, Any], by: str) -> dict[str, Any]:
        owner, _, name = self.repository.partition("/")
        return {"action": action, "issue": dict(issue),
                "repository": {"full_name": self.repository, "name": name, "owner": {"login": owner}},
                "sender": {"login": by}}
