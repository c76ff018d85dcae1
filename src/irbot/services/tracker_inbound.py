"""``POST /tracker/webhook``: the tracker says an issue was closed or reopened.

GitHub signs ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``; Jira Cloud's admin
webhooks sign the same way in ``X-Hub-Signature`` (WebSub's ``method=signature``). A bad or missing
signature answers 401 and changes nothing; an issue irbot did not make answers 200 and is ignored.
An applied change sets the item's status, is recorded on the timeline and told in the channel; a
change older than the latest one applied (from Slack or the tracker) is ignored, so concurrent
changes converge on the last one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from irbot.deps import Deps
from irbot.services import followups, outbox
from irbot.store import repo
from irbot.views.messages import tracker_inbound as messages
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    outcome: str  # applied | unchanged | stale | ignored | unauthorized | malformed | not_configured


@dataclass(frozen=True)
class IssueChange:
    key: str
    done: bool
    at: datetime
    who: str | None


def signed(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


async def receive(headers: Mapping[str, str], body: bytes, deps: Deps) -> Answer:
    settings = deps.settings.tracker
    if settings is None:
        return Answer(404, "not_configured")
    header = "X-Hub-Signature-256" if settings.kind == "github" else "X-Hub-Signature"
    if not settings.webhook_secret or not signed(settings.webhook_secret, body, headers.get(header)):
        return Answer(401, "unauthorized")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Answer(400, "malformed")
    if not isinstance(payload, dict):
        return Answer(400, "malformed")
    now = deps.clock()
    change = _github(headers, payload, now) if settings.kind == "github" else _jira(payload, now)
    if change is None:
        return Answer(200, "ignored")
    return Answer(200, await apply(change, settings.kind, deps))


def _github(headers: Mapping[str, str], payload: dict[str, Any], now: datetime) -> IssueChange | None:
    if headers.get("X-GitHub-Event") != "issues" or payload.get("action") not in ("closed", "reopened"):
        return None
    issue, repository = payload.get("issue") or {}, payload.get("repository") or {}
    if not isinstance(issue, dict) or not repository.get("full_name") or "number" not in issue:
        return None
    done = payload["action"] == "closed"
    at = followups.event_time(issue.get("closed_at") if done else issue.get("updated_at"), now)
    return IssueChange(key=f"{repository['full_name']}#{issue['number']}", done=done, at=at,
                       who=(payload.get("sender") or {}).get("login"))


def _jira(payload: dict[str, Any], now: datetime) -> IssueChange | None:
    if payload.get("webhookEvent") != "jira:issue_updated":
        return None
    items = ((payload.get("changelog") or {}).get("items")) or []
    if not any(isinstance(i, dict) and i.get("field") == "status" for i in items):
        return None  # a change of something other than the status
    issue = payload.get("issue") or {}
    status = ((issue.get("fields") or {}).get("status")) or {}
    category = (status.get("statusCategory") or {}).get("key")
    if not issue.get("key") or category is None:
        return None
    return IssueChange(key=issue["key"], done=category == "done", at=followups.event_time(payload.get("timestamp"), now),
                       who=(payload.get("user") or {}).get("displayName"))


async def apply(change: IssueChange, kind: str, deps: Deps) -> str:
    async with UnitOfWork(deps) as unit:
        issue = await repo.issue_by_key(kind, change.key, session=unit.session)
        if issue is None:
            return "ignored"  # not an issue irbot made
        item = await repo.get_action(issue.action_item_id, session=unit.session)
        incident = await repo.get_incident(issue.incident_id, session=unit.session)
        if item is None or incident is None:
            return "ignored"
        # Trackers give whole seconds: within the same second, the event that arrives later wins.
        if issue.changed_at is not None and change.at < issue.changed_at.replace(microsecond=0):
            log.info("%s: ignored an older change of %s (a later one is already applied)", change.key, kind)
            await repo.add_event(incident.id, "tracker_change_ignored", text=item.text, at=deps.clock(),
                                 session=unit.session, data={"number": item.number, "issue": issue.key,
                                                             "done": change.done, "by": change.who,
                                                             "changed_at": change.at.isoformat()})
            return "stale"
        status = "completed" if change.done else ("pending" if item.status == "completed" else item.status)
        if status == item.status:
            return "unchanged"
        item.status, item.completed_at = status, deps.clock() if change.done else None
        issue.changed_at = change.at
        unit.session.add_all([item, issue])
        await repo.add_event(incident.id, "action_status", text=item.text, at=deps.clock(), session=unit.session,
                             data={"number": item.number, "status": status, "source": kind, "issue": issue.key,
                                   "by": change.who, "changed_at": change.at.isoformat()})
        text = messages.issue_changed(deps.renderer, item=item, issue=issue, kind=kind, who=change.who,
                                      status=status)
        await outbox.owe_message(unit, incident, "action_status", text)
    return "applied"
