"""Compile the incident report: one SQL query, then pure aggregation (``irbot.domain.report``).

The query returns one row per non-drill incident declared in the period, with the first
commander assignment and the first "mitigating" and "resolved" status changes found by joining
``timeline_event`` and grouping by incident (the database does the work: events are never loaded
into Python), and the incident's action items counted by correlated subqueries. It is
SQLAlchemy Core over the same tables on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from irbot.deps import Deps
from irbot.domain.report import IncidentRow, Period, Report, build_report, seconds_between, write_csv
from irbot.domain.types import INCIDENT_TYPES
from irbot.views import blocks
from irbot.views.messages import report as messages
from irbot.outbound.slack import SlackCallError
from irbot.store.models import ActionItem, Incident, TimelineEvent, UTCDateTime

INCIDENTS, EVENTS = Incident.__table__, TimelineEvent.__table__  # type: ignore[attr-defined]
incident, event = INCIDENTS.c, EVENTS.c
action = ActionItem.__table__.c  # type: ignore[attr-defined]

# The event kinds the report reads; the join skips every other record (messages are most of them).
_KINDS = ("role_changed", "status_changed", "page_acknowledged")


def _first(kind: str, key: str, value: str, label: str) -> Any:
    """The earliest time of a ``kind`` event whose ``data[key]`` is ``value``."""
    matches = and_(event.kind == kind, event.data[key].as_string() == value)
    return func.min(case((matches, event.at)), type_=UTCDateTime()).label(label)


def _first_acknowledged(label: str) -> Any:
    """The earliest commander taken or page acknowledged in PagerDuty: whichever came first."""
    matches = or_(and_(event.kind == "role_changed", event.data["role"].as_string() == "commander"),
                  event.kind == "page_acknowledged")
    return func.min(case((matches, event.at)), type_=UTCDateTime()).label(label)


def _declared_in(period: Period, *, drills: bool = False) -> list[Any]:
    """Incidents (or, with ``drills``, only drills) declared in [since, until)."""
    conditions = [incident.drill.is_not(false()) if drills else incident.drill.is_(false()),
                  incident.declared_at < period.until]
    if period.since is not None:
        conditions.append(incident.declared_at >= period.since)
    return conditions


def _action_count(last_day: str, *, completed: bool) -> Any:
    """Action items due by the end of the period (and, if ``completed``, done) of the incident."""
    due = and_(action.incident_id == incident.id, action.due.is_not(None), action.due != "", action.due <= last_day)
    if completed:
        due = and_(due, action.status == "completed")
    return select(func.count()).select_from(ActionItem.__table__).where(due).scalar_subquery()  # type: ignore[attr-defined]


def incident_query(period: Period) -> Select[Any]:
    last_day = period.last_day.isoformat()
    joined = INCIDENTS.outerjoin(EVENTS, and_(event.incident_id == incident.id, event.kind.in_(_KINDS)))
    return (
        select(incident.id, incident.number, incident.title, incident.severity, incident.type, incident.private,
               incident.services, incident.declared_at, incident.impact_started_at, incident.resolved_at,
               _first_acknowledged("acknowledged_at"),
               _first("status_changed", "to", "mitigating", "mitigated_at"),
               _first("status_changed", "to", "resolved", "resolved_event_at"),
               _action_count(last_day, completed=False).label("actions_due"),
               _action_count(last_day, completed=True).label("actions_completed"))
        .select_from(joined)
        .where(*_declared_in(period))
        # Grouping by the primary key lets PostgreSQL accept the incident's other columns.
        .group_by(incident.id)
        .order_by(incident.number)
    )


def drills_query(period: Period) -> Select[Any]:
    return select(func.count()).select_from(INCIDENTS).where(*_declared_in(period, drills=True))


def row_of(row: Any) -> IncidentRow:
    declared = row.declared_at
    resolved = row.resolved_event_at or row.resolved_at
    return IncidentRow(
        number=row.number, title=row.title, severity=row.severity, type=row.type, private=bool(row.private),
        services=row.services or "", declared_at=declared,
        detect=seconds_between(row.impact_started_at, declared),
        acknowledge=seconds_between(declared, row.acknowledged_at),
        mitigate=seconds_between(declared, row.mitigated_at),
        resolve=seconds_between(declared, resolved),
        actions_due=int(row.actions_due or 0), actions_completed=int(row.actions_completed or 0),
    )


async def incident_rows(period: Period, *, session: AsyncSession) -> list[IncidentRow]:
    result = await session.execute(incident_query(period))
    return [row_of(row) for row in result.all()]


async def drills_in(period: Period, *, session: AsyncSession) -> int:
    return int((await session.execute(drills_query(period))).scalar_one())


async def compile_report(period: Period, deps: Deps, *, now: datetime | None = None) -> Report:
    async with deps.db.session() as session:
        rows = await incident_rows(period, session=session)
        drills = await drills_in(period, session=session)
    severities = deps.settings.severities
    return build_report(
        rows, period=period, generated_at=now or deps.clock(), drills_excluded=drills,
        severity_order=[s.key for s in severities], severity_labels={s.key: s.option_text for s in severities},
        type_order=[t.key for t in INCIDENT_TYPES], type_labels={t.key: t.label for t in INCIDENT_TYPES},
    )


def render_csv(report: Report) -> str:
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


def report_filename(report: Report, extension: str) -> str:
    first = report.period.first_day
    since = first.isoformat() if first else "start"
    return f"incident-report-{since}-to-{report.period.last_day.isoformat()}.{extension}"


# --- sharing in Slack -----------------------------------------------------------------------------

async def publish_report(period: Period, *, actor: str, channel: str | None, deps: Deps) -> str:
    """Upload the Markdown report where it was asked for, or to the person; returns the channel used.

    Private incidents are never named in Slack: the report is shared outside their channels.
    """
    report = await compile_report(period, deps)
    document = messages.document(deps.renderer, report)
    target = await _destination(channel, actor, deps)
    comment = messages.posted(deps.renderer, actor=actor, period=report.period, count=report.total.count)
    await deps.slack.call("files_upload_v2", channel=target, title=_title(report),
                          filename=report_filename(report, "md"), content=document, initial_comment=comment)
    return target


def _title(report: Report) -> str:
    first = report.period.first_day
    return f"Incident report {first.isoformat() + ' ' if first else ''}to {report.period.last_day.isoformat()}"


async def _destination(channel: str | None, actor: str, deps: Deps) -> str:
    """The channel the command came from when irbot is in it; otherwise the person's DM with irbot.

    A message to the person's user ID opens that DM (chat:write is enough; conversations.open would
    need im:write) and its answer carries the DM's channel ID, which the upload needs.
    """
    if channel and await _bot_is_member(channel, deps):
        return channel
    where = channel if channel and channel.startswith(("C", "G")) else None  # not a DM's id
    notice = blocks.text_message(messages.sent_privately(deps.renderer, channel=where))
    posted = await deps.slack.call("chat.postMessage", channel=actor, **notice.as_args())
    return str(posted.get("channel") or actor)


async def _bot_is_member(channel: str, deps: Deps) -> bool:
    try:
        info = await deps.slack.call("conversations.info", channel=channel)
    except SlackCallError:  # a private channel irbot is not in, a DM between people …
        return False
    return bool((info.get("channel") or {}).get("is_member"))
