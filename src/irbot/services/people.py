"""Names of the people in an incident, kept in the database for offline post-mortems."""

from __future__ import annotations

import logging

from irbot.deps import Deps
from irbot.outbound.slack import SlackCallError
from irbot.store import repo

log = logging.getLogger(__name__)


def note_person(user_id: str | None, deps: Deps) -> None:
    """Look a person up once per process, after the ack (the message itself is already stored)."""
    if not user_id or user_id in deps.workspace.remembered:
        return
    deps.workspace.remembered.add(user_id)
    deps.tasks.spawn(_remember(user_id, deps), name="remember-person")


async def _remember(user_id: str, deps: Deps) -> None:
    try:
        person = await deps.workspace.person(user_id)
    except SlackCallError as exc:
        deps.workspace.remembered.discard(user_id)
        log.info("could not look up %s: %s", user_id, exc.code)
        return
    if person is None:
        return
    # Not a unit of work: a copy of Slack's name for offline post-mortems, owing nothing.
    async with deps.db.session() as session:
        await repo.remember_person(user_id, person.name, session=session)
        await session.commit()
