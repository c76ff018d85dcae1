"""Taking, assigning and handing over roles.

The change itself is one compare-and-set in the database (so a race has exactly one winner,
across processes); its Slack side and webhooks are owed in the same unit of work and delivered
once it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from irbot.deps import Deps
from irbot.domain.permissions import Actors, may_change_role
from irbot.domain.roles import COMMANDER, Role
from irbot.services import outbox, surfaces, webhooks
from irbot.services.people import note_person
from irbot.views import blocks
from irbot.views.messages import roles as messages
from irbot.store import repo
from irbot.store.models import Incident
from irbot.work.unit import UnitOfWork


@dataclass(frozen=True)
class RoleOutcome:
    """What came of a role change. ``refusal`` names why nothing changed (``views.answers.role_answer``
    words it with ``context``); None when the channel is told it all."""

    changed: bool
    refusal: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _refused(reason: str, role: Role, holders: dict[str, str | None], incident: Incident,
             **context: Any) -> RoleOutcome:
    return RoleOutcome(False, reason, {"role": role, "commander": holders.get(COMMANDER),
                                       "declarer": incident.declarer_id, **context})


async def actors_for(incident: Incident, actor: str, deps: Deps) -> Actors:
    holders = await surfaces.holders_of(incident.id, deps)
    return Actors(actor=actor, declarer=incident.declarer_id, commander=holders.get(COMMANDER),
                  admins=frozenset(deps.settings.admins))


async def change_role(incident: Incident, role: Role, target: str, *, actor: str, deps: Deps) -> RoleOutcome:
    holders = await surfaces.holders_of(incident.id, deps)
    holder = holders.get(role.key)
    if holder == target:
        return _refused("already", role, holders, incident, user=target)
    refusal = may_change_role(await actors_for(incident, actor, deps), role, holder=holder, target=target)
    if refusal is not None:
        return _refused(refusal.reason, role, holders, incident, holder=refusal.holder)
    if await _not_a_person(target, deps):
        return _refused("not_a_person", role, holders, incident, user=target)
    async with UnitOfWork(deps) as unit:
        won = await repo.set_role_holder(incident.id, role.key, target, expected=holder, by=actor,
                                         session=unit.session)
        if won:
            await repo.add_event(incident.id, "role_changed", actor_id=actor, session=unit.session, at=deps.clock(),
                                 text=role.name, data={"role": role.key, "from": holder, "to": target})
            await unit.owe(incident.id, "role_changed", _role_change_steps(incident, role, target, holder, actor, deps))
            await webhooks.owe("role_changed", incident, unit)
    if not won:
        current = (await surfaces.holders_of(incident.id, deps)).get(role.key)
        if current == target:
            return _refused("already", role, holders, incident, user=target)
        return _refused("lost_race", role, holders, incident, holder=current)
    note_person(target, deps)
    return RoleOutcome(True)


async def _not_a_person(user_id: str, deps: Deps) -> bool:
    if user_id == deps.workspace.bot_user_id:
        return True
    person = await deps.workspace.person(user_id)
    return person is None or person.deleted or person.is_bot


def _role_change_steps(incident: Incident, role: Role, user: str, previous: str | None, by: str,
                       deps: Deps) -> list[outbox.Step]:
    """Invite the holder, tell the channel and redraw card, topic and announcement at once (people are
    watching the card); then brief the holder by DM. A failed invite or brief must not hold up the rest."""
    told = messages.announced(deps.renderer, role=role, user=user, previous=previous, by=by)
    facts = surfaces.facts_of(incident)
    brief = messages.brief(deps.renderer, role=role, incident=facts, severity=deps.settings.severity(incident.severity),
                           channel=incident.channel_id)
    fallback = messages.brief_fallback(deps.renderer, role=role, incident=facts)
    brief_message = blocks.Message(text=fallback, blocks=surfaces.message_for(incident, brief, deps).blocks)
    return [outbox.invite(user, wave=0), outbox.post(surfaces.message_for(incident, told, deps), wave=0),
            outbox.refresh(wave=0), outbox.post(brief_message, to=user, best_effort=True)]

