"""A fake of Jira Cloud's REST API v3 (the calls irbot makes), after developer.atlassian.com:
``POST /rest/api/3/issue`` (fields checked: project, issuetype, summary, ADF description,
priority, assignee accountId, duedate), ``GET /rest/api/3/search/jql`` (the JQL irbot writes),
``GET/POST /rest/api/3/issue/{key}/transitions``, basic auth with email and API token (401),
400 with ``errorMessages``/``errors``, and ``jira:issue_updated`` webhooks signed
``X-Hub-Signature: sha256=<hex HMAC>`` as admin webhooks with a secret are. A person acting in
Jira is :meth:`FakeJira.transition`.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from irbot.faketracker.base import FakeServer
from irbot.outbound.tracker import has_marker

# The simplified workflow of a team-managed project: To Do → In Progress → Done, any to any.
STATUSES = {"10000": ("To Do", "new"), "10001": ("In Progress", "indeterminate"), "10002": ("Done", "done")}
TRANSITIONS = {"11": "10000", "21": "10001", "31": "10002"}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
_JQL = re.compile(r'^project\s*=\s*"?(?P<project>[A-Z][A-Z0-9_]*)"?'
                  r'(?:\s+AND\s+created\s*>=\s*"(?P<created>\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?)")?'
                  r'(?:\s+ORDER\s+BY\s+created\s+(?P<order>ASC|DESC))?\s*$', re.IGNORECASE)


def _status(status_id: str) -> dict[str, Any]:
    name, category = STATUSES[status_id]
    return {"id": status_id, "name": name, "statusCategory": {"key": category, "name": name}}


@dataclass
class FakeJira(FakeServer):
    project: str = "OPS"
    email: str = "irbot@example.com"
    token: str = "jira-fake-api-token"
    issue_types: tuple[str, ...] = ("Task", "Bug", "Story")
    account_ids: set[str] = field(default_factory=lambda: {"5b10ac8d82e05b22cc7d4ef5", "712020:carol"})
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature_header = "X-Hub-Signature"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/rest/api/3/issue", self._create),
                web.get("/rest/api/3/search/jql", self._search),
                web.get("/rest/api/3/issue/{key}", self._get),
                web.put("/rest/api/3/issue/{key}", self._edit),
                web.get("/rest/api/3/issue/{key}/transitions", self._transitions),
                web.post("/rest/api/3/issue/{key}/transitions", self._transition)]

    def error(self, status: int, message: str, *, headers: dict[str, str] | None = None,
              errors: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"errorMessages": [message] if message else [], "errors": errors or {}},
                                 status=status, headers=headers)

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def with_marker(self, marker: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if has_marker(_text(i["fields"]["description"]), marker)]

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.error(401, "Client must be authenticated to access this resource.")
        try:
            fields = (await request.json())["fields"]
        except (ValueError, KeyError, TypeError):
            return self.error(400, "Could not parse the request body: fields are required.")
        problems = self._problems(fields)
        if problems:
            return self.error(400, "", errors=problems)
        number = len(self.issues) + 1
        key, issue_id = f"{self.project}-{number}", str(10000 + number)
        now = datetime.now(timezone.utc).isoformat()
        self.issues[key] = {"id": issue_id, "key": key, "self": f"{self.api_url}/rest/api/3/issue/{issue_id}",
                            "fields": {**fields, "status": _status("10000"), "created": now, "updated": now}}
        return web.json_response({"id": issue_id, "key": key, "self": self.issues[key]["self"]}, status=201)

    def _problems(self, fields: dict[str, Any]) -> dict[str, str]:
        problems = {}
        if (fields.get("project") or {}).get("key") != self.project:
            problems["project"] = "valid project is required"
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            problems["issuetype"] = "valid issue type is required"
        if not isinstance(fields.get("summary"), str) or not fields["summary"].strip() or len(fields["summary"]) > 255:
            problems["summary"] = "You must specify a summary of the issue."
        description = fields.get("description")
        if description is not None and not (isinstance(description, dict) and description.get("type") == "doc"
                                            and description.get("version") == 1):
            problems["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if "priority" in fields and (fields["priority"] or {}).get("name") not in PRIORITIES:
            problems["priority"] = "Specify the Priority (name) in the string format"
        if "assignee" in fields and (fields["assignee"] or {}).get("accountId") not in self.account_ids:
            problems["assignee"] = "Specify a valid value for assignee"
        if "duedate" in fields and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(fields["duedate"])):
            problems["duedate"] = "Error parsing date string: " + str(fields["duedate"])
        if not all(isinstance(label, str) and " " not in label for label in fields.get("labels", [])):
            problems["labels"] = "The label must not contain spaces."
        return problems

    async def _search(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.error(401, "Client must be authenticated to access this resource.")
        match = _JQL.match(request.query.get("jql", "").strip())
        if match is None:
            return self.error(400, "Error in the JQL Query: the fake understands only what irbot writes.")
        if match["project"] != self.project:
            return self.error(400, f"The value '{match['project']}' does not exist for the field 'project'.")
        found = [i for i in self.issues.values() if not match["created"] or i["fields"]["created"][:16]
                 .replace("T", " ") >= match["created"]]
        found.sort(key=lambda i: i["fields"]["created"], reverse=(match["order"] or "ASC").upper() == "DESC")
        start, size = int(request.query.get("nextPageToken") or 0), min(int(request.query.get("maxResults", 50)), 100)
        wanted = [f for f in request.query.get("fields", "").split(",") if f]
        page = [{"id": i["id"], "key": i["key"], "fields": {f: i["fields"].get(f) for f in wanted}}
                for i in found[start:start + size]]
        body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    def _issue(self, request: web.Request) -> dict[str, Any] | web.Response:
        if not self._authorized(request):
            return self.error(401, "Client must be authenticated to access this resource.")
        issue = self.issues.get(request.match_info["key"])
        return issue if issue is not None else self.error(404, "Issue does not exist or you do not have permission to see it.")

    async def _get(self, request: web.Request) -> web.Response:
        found = self._issue(request)
        return found if isinstance(found, web.Response) else web.json_response(found)

    async def _edit(self, request: web.Request) -> web.Response:
        """Edit fields (irbot edits only the description); 204 No Content, as Jira answers."""
        found = self._issue(request)
        if isinstance(found, web.Response):
            return found
        fields = ((await request.json()) or {}).get("fields") or {}
        description = fields.get("description")
        if not (isinstance(description, dict) and description.get("type") == "doc" and description.get("version") == 1):
            return self.error(400, "", errors={"description": "Operation value must be an Atlassian Document"})
        found["fields"]["description"] = description
        return web.Response(status=204)

    async def _transitions(self, request: web.Request) -> web.Response:
        found = self._issue(request)
        if isinstance(found, web.Response):
            return found
        current = found["fields"]["status"]["id"]
        listed = [{"id": t, "name": STATUSES[to][0], "to": _status(to), "isAvailable": True}
                  for t, to in TRANSITIONS.items() if to != current]
        return web.json_response({"expand": "transitions", "transitions": listed})

    async def _transition(self, request: web.Request) -> web.Response:
        found = self._issue(request)
        if isinstance(found, web.Response):
            return found
        transition = ((await request.json()).get("transition") or {}).get("id")
        if transition not in TRANSITIONS or TRANSITIONS[transition] == found["fields"]["status"]["id"]:
            return self.error(400, "", errors={"transition": f"Transition id '{transition}' is not valid for this issue."})
        self._move(found, TRANSITIONS[transition], by="irbot")
        return web.Response(status=204)

    def _move(self, issue: dict[str, Any], status_id: str, *, by: str) -> None:
        before = issue["fields"]["status"]
        issue["fields"]["status"] = _status(status_id)
        issue["fields"]["updated"] = datetime.now(timezone.utc).isoformat()
        self.send_soon({"X-Atlassian-Webhook-Identifier": str(uuid.uuid4()), "User-Agent": "Atlassian Webhook HTTP Client"},
                       self.event(issue, before, by))

    # ---- a person in Jira -----------------------------------------------------------------------
    def transition(self, key: str, status: str, *, by: str = "Carol") -> None:
        """Move an issue to "To Do", "In Progress" or "Done", as someone on the board does."""
        status_id = next(i for i, (name, _) in STATUSES.items() if name == status)
        self._move(self.issues[key], status_id, by=by)

    def event(self, issue: dict[str, Any], before: dict[str, Any], by: str) -> dict[str, Any]:
        after = issue["fields"]["status"]
        return {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic", "user": {"displayName": by, "accountId": "712020:" + by.lower()},
                "issue": {"id": issue["id"], "key": issue["key"], "self": issue["self"],
                          "fields": {"summary": issue["fields"]["summary"], "status": after}},
                "changelog": {"id": str(uuid.uuid4().int % 10**6), "items": [
                    {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": before["id"],
                     "fromString": before["name"], "to": after["id"], "toString": after["name"]}]}}


def _text(document: Any) -> str:
    if isinstance(document, dict):
        return (document.get("text") or "") + " ".join(_text(c) for c in document.get("content") or [])
    return document if isinstance(document, str) else ""
