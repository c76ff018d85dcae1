"""The containment checklist: posted at declare, ticked step by step from the message."""

from __future__ import annotations

from dataclasses import dataclass

from irbot.deps import Deps
from irbot.domain.playbooks import playbook_for
from irbot.services import surfaces
from irbot.views import blocks
from irbot.store import repo
from irbot.store.models import Incident
from irbot.work.engine import Engine, Facts, Job, Step
from irbot.work.unit import UnitOfWork


async def ticks(incident_id: int, deps: Deps) -> dict[int, tuple[str | None, object]]:
    async with deps.db.session() as session:
        events = await repo.events_of(incident_id, kinds=["playbook_step"], session=session)
    return {int(e.data["index"]): (e.actor_id, e.at) for e in events}


async def checklist_message(incident: Incident, deps: Deps, *, fresh: bool = False) -> blocks.Message:
    """``fresh``: the checklist is being posted for the first time, so nothing is ticked yet."""
    done = {} if fresh else await ticks(incident.id, deps)
    message = blocks.playbook_message(deps.renderer, surfaces.facts_of(incident), incident.playbook, done)
    return blocks.Message(text=surfaces.drill_marked(incident, message.text, deps), blocks=message.blocks)


CHECKLIST_EVENT = "irbot_incident_checklist"


async def post_checklist(incident: Incident, deps: Deps, *, repair: bool = False) -> dict | None:
    """A declare step: post the steps (once); returns them with the message's ts, to be stored.

    ``repair``: an earlier attempt may have posted the checklist without living to record it;
    look for it (by its metadata) before posting again."""
    if incident.playbook_ts:
        return None
    playbook = playbook_for(incident.type, deps.settings.playbooks)
    if playbook is None or not incident.channel_id:
        return None
    incident.playbook = list(playbook.steps)
    ts = await surfaces.post_once(incident.channel_id, await checklist_message(incident, deps, fresh=True),
                                  surfaces.incident_mark(CHECKLIST_EVENT, incident.id), deps,
                                  look_since=incident.declared_at if repair else None)
    return {"playbook": list(playbook.steps), "playbook_ts": ts}


@dataclass(frozen=True)
class AlreadyTicked:
    """A tick on a step done before: nothing changes, and the person learns who did it."""
    number: int  # the step's, counted from 1 as the checklist shows it
    done_by: str | None


async def tick(incident: Incident, index: int, *, actor: str, deps: Deps) -> AlreadyTicked | None:
    """Record a done step and owe the checklist's redraw; a second tick changes nothing."""
    if not 0 <= index < len(incident.playbook):
        return None
    async with UnitOfWork(deps) as unit:
        recorded = await repo.add_event(incident.id, "playbook_step", actor_id=actor, text=incident.playbook[index],
                                        dedupe_key=f"step:{index}", data={"index": index}, at=deps.clock(),
                                        session=unit.session)
        if recorded is not None:
            await unit.owe(incident.id, "playbook_step", [{"do": "redraw_checklist"}])
    if recorded is None:
        by, _ = (await ticks(incident.id, deps)).get(index, (None, None))
        return AlreadyTicked(number=index + 1, done_by=by)
    return None


def register(engine: Engine) -> None:
    engine.handle("redraw_checklist", _redraw_checklist)


async def _redraw_checklist(step: Step, job: Job) -> Facts | None:
    """From the ticks stored now: two ticks a moment apart both show, whichever redraw runs last."""
    incident = job.incident
    await job.deps.slack.update(incident.channel_id, incident.playbook_ts,
                                (await checklist_message(incident, job.deps)).as_args())
    return None
