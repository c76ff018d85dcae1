"""Tables. Times are stored as timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Incident(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, index=True)
    title: str
    severity: str
    type: str
    status: str = "investigating"
    # "opening" until the declare's owed set-up has built the incident in Slack, then "open".
    setup: str = Field(default="opening", index=True)
    private: bool = False
    drill: bool = False
    summary: str = ""
    services: str = ""
    affected_users: str = ""
    declarer_id: str | None = None
    origin_channel_id: str | None = None
    # The declare modal's view id: a modal submitted twice makes one incident.
    source_key: str | None = Field(default=None, unique=True)
    channel_id: str | None = Field(default=None, index=True)
    channel_name: str | None = None
    card_ts: str | None = None
    topic: str | None = None
    announce_channel_id: str | None = None
    announce_ts: str | None = None
    declared_at: datetime = _when(nullable=False, default=utcnow)
    last_update_at: datetime | None = _when(nullable=True)
    resolved_at: datetime | None = _when(nullable=True)
    resolution: str = ""
    impact_started_at: datetime | None = _when(nullable=True)
    legal_hold: bool = False
    postmortem_file_id: str | None = None
    # The channel bookmark to the post-mortem: a new compile edits it rather than adding another.
    postmortem_bookmark_id: str | None = None
    # Held while one process compiles the post-mortem (renewed as it works): one compile at a time.
    postmortem_lease_until: datetime | None = _when(nullable=True)
    # Every gap in listening before this moment has been backfilled from Slack's history.
    backfilled_until: datetime | None = _when(nullable=True)
    # The containment checklist as posted (settings may change later; ticks refer to these steps).
    playbook: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    playbook_ts: str | None = None
    # Declared from a message (its permalink and ts, in origin_channel_id), or in a channel that
    # already existed (converted: irbot did not create the channel, so it never renames or archives it).
    origin_permalink: str | None = None
    origin_ts: str | None = None
    origin_thread_ts: str | None = None  # the thread the message is in (a reply goes under its parent)
    converted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class IncidentRole(SQLModel, table=True):
    """Who holds each role now; one row per (incident, role), compare-and-set on ``user_id``."""

    __tablename__ = "incident_role"
    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    role_key: str = Field(primary_key=True)
    user_id: str | None = None
    assigned_by: str | None = None
    assigned_at: datetime | None = _when(nullable=True)
    version: int = 0


class TimelineEvent(SQLModel, table=True):
    """One record of an incident's timeline, chained to the one before it (see domain.evidence)."""

    __tablename__ = "timeline_event"
    __table_args__ = (UniqueConstraint("incident_id", "dedupe_key", name="uq_timeline_dedupe"),
                      UniqueConstraint("incident_id", "seq", name="uq_timeline_seq"))
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = _when(nullable=False, default=utcnow)
    kind: str
    actor_id: str | None = None
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Slack-side identity of what the event records (an event_id, a message ts): repeats collapse.
    dedupe_key: str | None = None
    seq: int = 0  # 1, 2, 3 … within the incident: the chain's order
    text_sha256: str = ""
    prev_hash: str = ""
    hash: str = ""


class Counter(SQLModel, table=True):
    name: str = Field(primary_key=True)
    value: int = 0


class Reminder(SQLModel, table=True):
    """The next reminder of each kind for an incident; the truth that makes firing exactly-once.

    APScheduler wakes irbot at ``due_at``; the firing process first moves the row from
    "pending" to "firing" with a conditional UPDATE, so two schedulers (or a job that runs
    twice) can never both post it.
    """

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    kind: str = Field(primary_key=True)
    due_at: datetime = _when(nullable=False, index=True)
    state: str = Field(default="pending", index=True)  # pending | firing | done | cancelled
    lease_until: datetime | None = _when(nullable=True)
    fired: int = 0
    # Claims of this due time. Above one, an earlier claim may have posted it and died before
    # recording that: the firing process looks for the post in Slack first.
    tries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Person(SQLModel, table=True):
    """Names irbot has looked up, so an offline post-mortem shows people, not IDs."""

    id: str = Field(primary_key=True)
    name: str
    updated_at: datetime = _when(nullable=False, default=utcnow)


class ActionItem(SQLModel, table=True):
    __tablename__ = "action_item"
    __table_args__ = (UniqueConstraint("incident_id", "number", name="uq_action_number"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    number: int  # 1, 2, 3 … within the incident, as people refer to them
    text: str
    owner_id: str | None = None
    due: str | None = None  # YYYY-MM-DD
    priority: str = "medium"  # high | medium | low
    status: str = "pending"  # pending | in_progress | completed
    created_by: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)
    completed_at: datetime | None = _when(nullable=True)


class Heartbeat(SQLModel, table=True):
    """When each irbot process was up: compiling backfills only the time nobody was listening."""

    process_id: str = Field(primary_key=True)
    started_at: datetime = _when(nullable=False)
    last_seen: datetime = _when(nullable=False, index=True)
    stopped: bool = False  # a clean stop: listening ended exactly at last_seen


# How long a claimed delivery is remembered: Slack retries within minutes, people double-click within seconds.
KEEP_DELIVERIES = timedelta(days=1)


class Delivery(SQLModel, table=True):
    """Requests already handled, by Slack's own identity (event_id, trigger_id): repeats do nothing."""

    key: str = Field(primary_key=True)
    received_at: datetime = _when(nullable=False, index=True)


class RegulatoryClock(SQLModel, table=True):
    """A legal notification deadline running for an incident (one per regulation)."""

    __tablename__ = "regulatory_clock"
    __table_args__ = (UniqueConstraint("incident_id", "regime", name="uq_clock_regime"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    regime: str
    name: str
    notify_whom: str
    aware_at: datetime = _when(nullable=False)
    deadline: datetime = _when(nullable=False)
    started_by: str | None = None
    notified_at: datetime | None = _when(nullable=True)
    notified_by: str | None = None
    reference: str = ""
    missed: bool = False


class AlertGroup(SQLModel, table=True):
    """An Alertmanager group (its ``groupKey``) and the incident its notifications go to."""

    __tablename__ = "alert_group"
    group_key: str = Field(primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    status: str = "firing"
    updated_at: datetime = _when(nullable=False, default=utcnow)
    # Its seen set reached its bound and the channel was told that its new alerts are no longer
    # listed (said once; cleared when the group starts a new incident).
    full: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class AlertSeen(SQLModel, table=True):
    """Alerts already told to a group's incident, by fingerprint: none is listed twice.

    One row each (the primary key is the index that finds them), bounded per group, so a
    notification's new alerts are found with one indexed query instead of a scan of a list."""

    __tablename__ = "alert_seen"
    group_key: str = Field(foreign_key="alert_group.group_key", primary_key=True)
    fingerprint: str = Field(primary_key=True)


class OutboxItem(SQLModel, table=True):
    """Work a committed change still owes outside (an incident's set-up, a channel message, a brief,
    a card refresh), run by ``irbot.work.engine``.

    Written in the change's own transaction: a process killed after the commit leaves the row
    pending, and whoever holds no lease on it next (a retry, a replica, the restarted process)
    finishes it. ``done`` counts finished steps, so a step that completed is not run again.
    """

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    what: str  # the change that owes it, for logs: role_changed, update, resolved ...
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    done: int = 0
    state: str = Field(default="pending", index=True)  # pending | done | failed
    attempts: int = 0
    error: str | None = None
    lease_until: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False, default=utcnow)


class ChannelMember(SQLModel, table=True):
    """Who is in a private incident's channel, as Slack's conversations.members last said.

    Leave events take people out at once; a join event only makes irbot ask Slack again (an event
    is a claim, the member list is Slack's answer), so a row always comes from Slack itself.
    """

    __tablename__ = "channel_member"
    channel_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True, index=True)


class ChannelRoster(SQLModel, table=True):
    """When a channel's members were last read from Slack (their rows are in ``channel_member``)."""

    __tablename__ = "channel_roster"
    channel_id: str = Field(primary_key=True)
    loaded_at: datetime = _when(nullable=False)


class StatusPublication(SQLModel, table=True):
    """An incident on the public status page: only the words chosen for the public, never the
    incident's own title, people or channel. ``unpublished_at`` set: off the page and the feed."""

    __tablename__ = "status_publication"
    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    title: str
    impact: str  # irbot.domain.status_page.Impact
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    published_at: datetime = _when(nullable=False)
    resolved_at: datetime | None = _when(nullable=True)  # when its public "Resolved" entry was posted
    unpublished_at: datetime | None = _when(nullable=True, index=True)


class StatusEntry(SQLModel, table=True):
    """One public update of a published incident (one Atom entry); ``kind`` is published, update or resolved."""

    __tablename__ = "status_entry"
    __table_args__ = (UniqueConstraint("incident_id", "dedupe_key", name="uq_status_entry_dedupe"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str
    text: str
    impact: str
    at: datetime = _when(nullable=False)
    dedupe_key: str | None = None  # the form's view id: a form submitted twice posts once


class Page(SQLModel, table=True):
    """A page irbot sent to PagerDuty for an incident, one row per dedup key (``irbot-INC-12``,
    ``irbot-INC-12-payments``, ``irbot-INC-12-escalation``). ``state``: triggered (a trigger is owed or
    sent), acknowledged, resolved (a resolve is owed or sent), refused (PagerDuty answered 400)."""

    __tablename__ = "page"

    dedup_key: str = Field(primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    target: str  # "default", "escalation" or a [[pagerduty.services]] key
    name: str  # who was paged, as people read it
    state: str = "triggered"
    triggered_at: datetime = _when(nullable=False)
    triggered_by: str | None = None
    acknowledged_at: datetime | None = _when(nullable=True)
    acknowledged_by: str | None = None
    resolved_at: datetime | None = _when(nullable=True)
    triggers: int = 0  # trigger events PagerDuty accepted for this key (a reopen triggers again)


class HomeTab(SQLModel, table=True):
    """Each person whose Home tab irbot publishes: when it last did (refreshes are throttled by it)."""

    __tablename__ = "home_tab"
    user_id: str = Field(primary_key=True)
    published_at: datetime | None = _when(nullable=True)


class TrackerIssue(SQLModel, table=True):
    """The GitHub or Jira issue an action item became, and the last state change applied to it.

    ``changed_at`` is when the latest applied change happened (a tracker event's own time, or the
    moment someone in Slack changed the item): an older event arriving later loses.
    """

    __tablename__ = "tracker_issue"
    action_item_id: int = Field(foreign_key="action_item.id", primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str  # github | jira
    key: str = Field(index=True)  # acme/ops#12 or OPS-12: what webhooks name
    url: str
    remote_id: str  # the GitHub issue number or the Jira issue id
    changed_at: datetime | None = _when(nullable=True)


class FollowupDigest(SQLModel, table=True):
    """One overdue-follow-ups DM per owner per business day, claimed before it is sent."""

    __tablename__ = "followup_digest"
    owner_id: str = Field(primary_key=True)
    day: str = Field(primary_key=True)  # YYYY-MM-DD in the settings' timezone
    state: str = "sending"  # sending | sent
    lease_until: datetime | None = _when(nullable=True)
