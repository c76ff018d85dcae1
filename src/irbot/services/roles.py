"""Taking, assigning and handing over roles.

The change itself is one compare-and-set in the database (so a race has exactly one winner,
across processes); its Slack side and webhooks are owed in the same unit of work and delivered
once it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from irbot.deps import Deps
from irbot.domain.permissions import Actors, may_change_role
from irbot.domain.roles import COMMANDER, Role
from irbot.services import outbox, surfaces, webhooks
from irbot.services.people import note_person
from irbot.views import blocks
from irbot.store import repo
from irbot.store.models import Incident
from irbot.work.unit import UnitOfWork


@dataclass(frozen=True)
class RoleOutcome:
    changed: bool
    message: str  # what the actor is told (ephemeral); empty when the channel message says it all


async def actors_for(incident: Incident, actor: str, deps: Deps) -> Actors:
    holders = await surfaces.holders_of(incident.id, deps)
    return Actors(actor=actor, declarer=incident.declarer_id, commander=holders.get(COMMANDER),
                  admins=frozenset(deps.settings.admins))


async def change_role(incident: Incident, role: Role, target: str, *, actor: str, deps: Deps) -> RoleOutcome:
    holders = await surfaces.holders_of(incident.id, deps)
    holder = holders.get(role.key)
    say = _sayer(deps, role, holders.get(COMMANDER), incident.declarer_id)
    if holder == target:
        return RoleOutcome(False, say("already", user=target))
    refusal = may_change_role(await actors_for(incident, actor, deps), role, holder=holder, target=target)
    if refusal is not None:
        return RoleOutcome(False, say(refusal.reason, holder=refusal.holder))
    problem = await _not_a_person(target, deps)
    if problem:
        return RoleOutcome(False, deps.renderer.part("roles.j2", "not_a_person", user=target))
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
            return RoleOutcome(False, say("already", user=target))
        return RoleOutcome(False, say("lost_race", holder=current))
    note_person(target, deps)
    return RoleOutcome(True, "")


def _sayer(deps: Deps, role: Role, commander: str | None, declarer: str | None):  # noqa: ANN202 - local helper
    def say(macro: str, **context: object) -> str:
        return deps.renderer.part("roles.j2", macro, role=role, commander=commander, declarer=declarer, **context)
    return say


async def _not_a_person(user_id: str, deps: Deps) -> bool:
    if user_id == deps.workspace.bot_user_id:
        return True
    person = await deps.workspace.person(user_id)
    return person is None or person.deleted or person.is_bot


def _role_change_steps(incident: Incident, role: Role, user: str, previous: str | None, by: str,
                       deps: Deps) -> list[outbox.Step]:
    """Invite the holder, tell the channel and redraw card, topic and announcement at once (people are
    watching the card); then brief the holder by DM. A failed invite or brief must not hold up the rest."""
    told = deps.renderer.part("roles.j2", "announced", role=role, user=user, previous=previous, by=by)
    facts = surfaces.facts_of(incident)
    brief = deps.renderer.part("roles.j2", "brief", role=role, incident=facts,
                               severity=deps.settings.severity(incident.severity), channel=incident.channel_id)
    fallback = deps.renderer.part("roles.j2", "brief_fallback", role=role, incident=facts)
    brief_message = blocks.Message(text=fallback, blocks=surfaces.message_for(incident, brief, deps).blocks)
    return [outbox.invite(user, wave=0), outbox.post(surfaces.message_for(incident, told, deps), wave=0),
            outbox.refresh(wave=0), outbox.post(brief_message, to=user, best_effort=True)]


def roles_text(deps: Deps, holders: dict[str, str | None]) -> str:
    return deps.renderer.part("roles.j2", "listing", roles=deps.settings.roles, holders=holders)
