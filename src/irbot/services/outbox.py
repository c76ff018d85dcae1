"""The Slack steps a committed change may owe, and how the engine does them.

Services build steps with :func:`invite`, :func:`post` and :func:`refresh` and owe them in their
change's unit of work (``UnitOfWork.owe``, or :func:`owe_message`); the unit starts their
delivery once it has committed. The engine (``irbot.work.engine``) runs them: leases, waves,
retries, give-up and look-before-repost live there, once for every kind of owed work.
"""

from __future__ import annotations

from irbot.deps import Deps
from irbot.services import home, surfaces
from irbot.views import blocks
from irbot.store import repo
from irbot.store.models import Incident, OutboxItem
from irbot.work.engine import MAX_ATTEMPTS, Engine, Facts, Job, Step
from irbot.work.unit import UnitOfWork

__all__ = ["MAX_ATTEMPTS", "CHANNEL", "STAKEHOLDERS", "invite", "post", "refresh", "message_steps", "owe_message",
           "deliver_pending", "register"]

POST_EVENT = "irbot_outbox_post"
CHANNEL = "channel"  # the incident's channel
STAKEHOLDERS = "stakeholders"  # the thread under the incident's announcement


def invite(user: str, *, wave: int | None = None) -> Step:
    """Into the incident's channel; best effort (someone Slack will not invite can still be told)."""
    return _in_wave({"do": "invite", "user": user, "best_effort": True}, wave)


def post(message: blocks.Message, *, to: str = CHANNEL, best_effort: bool = False, wave: int | None = None,
         mark: dict | None = None) -> Step:
    """``to``: CHANNEL, STAKEHOLDERS or a user id (a direct message). A best-effort post that Slack
    refuses is skipped, not retried (a brief to someone who cannot receive DMs). ``mark``: the
    message metadata it carries (default: its item and step), by which a retry finds it."""
    step = {"do": "post", "to": to, "message": message.as_args(), "best_effort": best_effort}
    return _in_wave({**step, "mark": mark} if mark else step, wave)


def refresh(*, wave: int | None = None) -> Step:
    """Redraw card, topic and announcement from the stored incident."""
    return _in_wave({"do": "refresh"}, wave)


def _in_wave(step: Step, wave: int | None) -> Step:
    return {**step, "wave": wave} if wave is not None else step


def message_steps(incident: Incident, text: str, deps: Deps, *, redraw: bool = False) -> list[Step]:
    """The common case: the incident's channel is owed one message (and, with ``redraw``, a redraw
    of card, topic and announcement at the same time)."""
    wave = 0 if redraw else None
    return [post(surfaces.message_for(incident, text, deps), wave=wave), *([refresh(wave=wave)] if redraw else [])]


async def owe_message(unit: UnitOfWork, incident: Incident, what: str, text: str, *,
                      redraw: bool = False) -> OutboxItem:
    """:func:`message_steps`, owed by a unit of work (delivered once it has committed)."""
    assert incident.id is not None
    return await unit.owe(incident.id, what, message_steps(incident, text, unit.deps, redraw=redraw))


async def deliver_pending(deps: Deps) -> int:
    return await deps.work.deliver_pending()


def register(engine: Engine) -> None:
    engine.handle("invite", _invite)
    engine.handle("post", _post)
    engine.handle("refresh", _refresh)


async def _invite(step: Step, job: Job) -> Facts | None:
    await job.deps.slack.invite(job.incident.channel_id, step["user"])
    return None


async def _refresh(step: Step, job: Job) -> Facts | None:
    """From the latest stored state: later changes may have committed since the item was written."""
    async with job.deps.db.reader() as session:
        latest = await repo.get_incident(job.item.incident_id, session=session)
    await surfaces.refresh_surfaces(latest or job.incident, job.deps)
    await home.incident_changed(latest or job.incident, job.deps)  # the Home tabs it shows on (paced)
    return None


async def _post(step: Step, job: Job) -> Facts | None:
    incident, to, thread_ts = job.incident, step["to"], None
    if to == CHANNEL:
        channel = incident.channel_id
    elif to == STAKEHOLDERS:
        if incident.private or not (incident.announce_channel_id and incident.announce_ts):
            return None  # never announced: nobody follows a thread
        channel, thread_ts = incident.announce_channel_id, incident.announce_ts
    else:
        channel = to  # a user: Slack opens the DM (its id is unknown here, so a retry cannot look first)
    assert channel is not None
    mark = step.get("mark") or {"event_type": POST_EVENT, "event_payload": {"outbox_id": job.item.id, "step": job.index}}
    can_look = to in (CHANNEL, STAKEHOLDERS)
    await surfaces.post_once(channel, blocks.Message(**step["message"]), mark, job.deps, thread_ts=thread_ts,
                             look_since=job.item.created_at if job.look_first and can_look else None)
    if job.item.what in home.SHOWN_CHANGES:
        await home.incident_changed(incident, job.deps)
    return None
