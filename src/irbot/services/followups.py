"""Follow-ups: every action item becomes one GitHub or Jira issue, kept in step both ways.

Creating the issue, and closing or reopening it when the item changes in Slack, is owed work
(``tracker:create`` / ``tracker:state``), stored with the change and delivered by the engine
with the tracker's own back-off (honouring ``Retry-After``). The issue's body carries a marker
``irbot:<INC-n>#<item>``: a retry after a lost answer finds the issue it made instead of making a
second one. The tracker's webhooks (``POST /tracker/webhook``) set the item's status; the latest
change wins (each applied change's time is kept with the issue).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from irbot.config_tracker import TrackerSettings
from irbot.deps import Deps
from irbot.domain.incident import incident_ref
from irbot.outbound import tracker as door
from irbot.services import outbox, surfaces
from irbot.store import repo
from irbot.store.models import ActionItem, Incident, TrackerIssue
from irbot.views.messages import followups as messages
from irbot.work.engine import Engine, Facts, Job, RetryPolicy, Step
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)

CREATE = "tracker:create"
STATE = "tracker:state"
# While the tracker fails, one item probes it after 2 s, 5 s, 10 s, then every 15 s (the engine's gate;
# never sooner than a Retry-After), so an outage costs at most ~15 s after it ends. Failures that
# pass are never given up; a final refusal (401/403/404/422) is, and the channel is told.
POSTMORTEM = "tracker:postmortem"
POLICY = RetryPolicy(delays=(2.0, 5.0, 10.0, 15.0), give_up_after=None, timed_here=True)
ISSUE_MARK = "irbot_tracker_issue"
LOOK_BACK = timedelta(minutes=5)  # tracker and irbot clocks differ a little


def marker(incident: Incident, item: ActionItem) -> str:
    return f"irbot:{incident_ref(incident.number)}#{item.number}"


# ---- owing (inside the change's unit of work) --------------------------------------------------
async def owe_issue(unit: UnitOfWork, incident: Incident, item: ActionItem) -> None:
    """The new item's issue; then the channel is shown its link."""
    if unit.deps.settings.tracker is None:
        return
    assert incident.id is not None and item.id is not None
    await unit.owe(incident.id, CREATE, [{"do": "tracker_create", "item": item.id}])


async def owe_state(unit: UnitOfWork, incident: Incident, item: ActionItem) -> None:
    """The item changed in Slack: its issue follows (closed when completed, open otherwise)."""
    if unit.deps.settings.tracker is None:
        return
    assert incident.id is not None and item.id is not None
    issue = await repo.issue_of_item(item.id, session=unit.session)
    if issue is not None:
        issue.changed_at = unit.deps.clock()
        unit.session.add(issue)
    await unit.owe(incident.id, STATE, [{"do": "tracker_state", "item": item.id}])


# ---- delivering ---------------------------------------------------------------------------------
def register(engine: Engine) -> None:
    engine.retry_as("tracker", POLICY)
    engine.handle("tracker_create", _create)
    engine.handle("tracker_state", _state)
    engine.handle("tracker_body", _body)
    engine.on_first_refusal(CREATE, _refused)
    engine.on_first_refusal(STATE, _refused)
    engine.on_first_refusal(POSTMORTEM, _refused)


def _settings(deps: Deps) -> TrackerSettings | None:
    return deps.settings.tracker


async def _create(step: Step, job: Job) -> Facts | None:
    """Find (after a lost answer) or make the issue, record it, then show its link in the channel.
    One step, so the whole costs two writes: recording the issue, and the engine's finish."""
    deps, incident = job.deps, job.incident
    settings = _settings(deps)
    async with deps.db.reader() as session:
        item = await repo.get_action(step["item"], session=session)
        issue = await repo.issue_of_item(step["item"], session=session)
    if settings is None or item is None:
        return None  # no tracker any more, or no item
    if issue is None:
        issue = await _make(item, incident, settings, job)
    await _tell(item, issue, job)
    return None


async def _make(item: ActionItem, incident: Incident, settings: TrackerSettings, job: Job) -> TrackerIssue:
    deps = job.deps
    tracker = door.tracker_for(settings)
    mark = marker(incident, item)
    found = await tracker.find(mark, job.item.created_at - LOOK_BACK) if job.look_first else None
    async with deps.db.reader() as session:
        postmortem = await repo.postmortem_link(incident.id, session=session)
    made = found or await tracker.create(_new_issue(incident, item, settings, mark, postmortem))
    async with UnitOfWork(deps) as unit:
        recorded = await repo.record_issue(TrackerIssue(
            action_item_id=item.id, incident_id=incident.id, kind=tracker.kind, key=made.key, url=made.url,
            remote_id=made.remote_id), session=unit.session)
    async with deps.db.reader() as session:
        latest = await repo.get_action(item.id, session=session)
    deps.metrics.tracker_issues.labels(outcome="found" if found else "created").inc()
    if latest is not None and latest.status == "completed":  # done in Slack before the issue existed
        await tracker.set_done(recorded.remote_id, True)
    return recorded


def _new_issue(incident: Incident, item: ActionItem, settings: TrackerSettings, mark: str,
               postmortem: str | None = None) -> door.NewIssue:
    ref = incident_ref(incident.number)
    if incident.private:  # the body carries only the ref: the incident's title and channel stay in Slack
        body: tuple[tuple[door.Link, ...], ...] = ((door.Link(f"Follow-up of {ref}."),),)
    else:
        channel = f"https://slack.com/app_redirect?channel={incident.channel_id}" if incident.channel_id else None
        body = ((door.Link(f"Follow-up of {ref}: {incident.title}"),),
                (door.Link(f"Severity: {incident.severity} · channel: "),
                 door.Link(f"#{incident.channel_name or 'incident'}", channel)),
                (door.Link("Post-mortem: ", None), door.Link("the post-mortem", postmortem)) if postmortem else
                (door.Link("The post-mortem is posted and bookmarked in the incident's channel once compiled."),))
    return door.NewIssue(title=" ".join(item.text.split())[:250], body=body, marker=mark, labels=settings.labels,
                         priority=item.priority, assignee=settings.assignee(item.owner_id), due=item.due)


async def _tell(item: ActionItem, issue: TrackerIssue, job: Job) -> None:
    deps, incident = job.deps, job.incident
    if not incident.channel_id:
        return
    text = messages.issue_created(deps.renderer, item=item, issue=issue, kind=issue.kind)
    mark = {"event_type": ISSUE_MARK, "event_payload": {"item": item.id}}
    await surfaces.post_once(incident.channel_id, surfaces.message_for(incident, text, deps), mark, deps,
                             look_since=job.item.created_at if job.look_first else None)


async def _state(step: Step, job: Job) -> Facts | None:
    """Push the item's current status (read now, so the latest change is what the issue shows)."""
    deps = job.deps
    settings = _settings(deps)
    async with deps.db.reader() as session:
        item = await repo.get_action(step["item"], session=session)
        issue = await repo.issue_of_item(step["item"], session=session)
    if settings is None or item is None or issue is None:
        return None  # not made yet: the creation closes it if the item is done by then
    await door.tracker_for(settings).set_done(issue.remote_id, item.status == "completed")
    return None


async def owe_postmortem_links(unit: UnitOfWork, incident: Incident, link: str) -> None:
    """The post-mortem is published: each issue's body links it (a private incident's keeps only its ref)."""
    if unit.deps.settings.tracker is None or incident.private or incident.id is None:
        return
    for item_id in sorted(await repo.issues_of(incident.id, session=unit.session)):
        await unit.owe(incident.id, POSTMORTEM, [{"do": "tracker_body", "item": item_id, "link": link}])


async def _body(step: Step, job: Job) -> Facts | None:
    """Rewrite the issue's body with the post-mortem's link (the same body, so a retry is harmless)."""
    deps, incident, settings = job.deps, job.incident, _settings(job.deps)
    async with deps.db.reader() as session:
        item = await repo.get_action(step["item"], session=session)
        issue = await repo.issue_of_item(step["item"], session=session)
    if settings is None or item is None or issue is None:
        return None
    body = _new_issue(incident, item, settings, marker(incident, item), step["link"])
    await door.tracker_for(settings).set_body(issue.remote_id, body)
    return None


async def _refused(incident: Incident, code: str, deps: Deps) -> None:
    """Tell the channel once per reason when the tracker refuses for a reason people must fix."""
    settings = _settings(deps)
    if settings is None or not code.startswith("http_4") or code == "http_429" or incident.id is None:
        return
    text = messages.tracker_refused(deps.renderer, kind=settings.kind, code=code)
    log.error("%s: the %s tracker refused a request (%s)", incident_ref(incident.number), settings.kind, code)
    async with UnitOfWork(deps) as unit:
        event = await repo.add_event(incident.id, "tracker_refused", text=code, at=deps.clock(), data={"code": code},
                                     dedupe_key=f"tracker_refused:{code}", session=unit.session)
        if event is not None:
            await outbox.owe_message(unit, incident, "tracker_refused", text)


# ---- the item's issue, wherever the item is shown ------------------------------------------------
async def issues_of(incident: Incident, deps: Deps) -> dict[int, TrackerIssue]:
    assert incident.id is not None
    async with deps.db.reader() as session:
        return await repo.issues_of(incident.id, session=session)


def event_time(value: Any, fallback: datetime) -> datetime:
    """An ISO 8601 time (GitHub) or Unix milliseconds (Jira); the receiving moment when absent."""
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, tz=fallback.tzinfo)
        if isinstance(value, str) and value:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        pass
    return fallback
