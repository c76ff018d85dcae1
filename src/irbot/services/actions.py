"""Action items: ``action add|list|done`` and the buttons on the list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from irbot.deps import Deps
from irbot.services import followups, outbox
from irbot.domain.commands import mentioned_users
from irbot.store import repo
from irbot.work.unit import UnitOfWork
from irbot.store.models import ActionItem, Incident
from irbot.views.messages import actions as messages

PRIORITIES = ("high", "medium", "low")
STATUSES = ("pending", "in_progress", "completed")
_DUE = re.compile(r"\bdue\s+(\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)
_PRIORITY = re.compile(r"\bpriority\s+(high|medium|low)\b", re.IGNORECASE)
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


@dataclass(frozen=True)
class ActionDraft:
    text: str
    owner: str | None
    due: str | None
    priority: str


def parse_action(text: str) -> ActionDraft | None:
    """``<text> [@owner] [due YYYY-MM-DD] [priority high|medium|low]`` in any order after the text."""
    due = _DUE.search(text)
    priority = _PRIORITY.search(text)
    owners = mentioned_users(text)
    rest = _PRIORITY.sub("", _DUE.sub("", _MENTION.sub("", text)))
    rest = " ".join(rest.split())
    if not rest:
        return None
    if due:
        try:
            date.fromisoformat(due.group(1))
        except ValueError:
            return None
    return ActionDraft(text=rest, owner=owners[0] if owners else None, due=due.group(1) if due else None,
                       priority=priority.group(1).lower() if priority else "medium")


async def add_action(incident: Incident, draft: ActionDraft, *, actor: str, deps: Deps) -> ActionItem:
    for _ in range(5):  # two people adding at once may both pick the next number: try again
        try:
            async with UnitOfWork(deps) as unit:
                item = await repo.add_action(ActionItem(
                    incident_id=incident.id, number=0, text=draft.text, owner_id=draft.owner, due=draft.due,
                    priority=draft.priority, created_by=actor, created_at=deps.clock()), session=unit.session)
                await repo.add_event(incident.id, "action_added", actor_id=actor, text=draft.text, at=deps.clock(),
                                     data={"number": item.number, "owner": draft.owner}, session=unit.session)
                await outbox.owe_message(unit, incident, "action_added",
                                         messages.added(deps.renderer, item=item))
                await followups.owe_issue(unit, incident, item)
        except IntegrityError:
            continue
        return item
    raise RuntimeError("could not number the action item")


async def set_action_status(incident: Incident, number: int, status: str, *, actor: str,
                            deps: Deps) -> ActionItem | None:
    async with UnitOfWork(deps) as unit:
        item = await repo.action_by_number(incident.id, number, session=unit.session)
        if item is None:
            return None
        if item.status != status:
            previous, item.status = item.status, status
            item.completed_at = deps.clock() if status == "completed" else None
            await repo.add_event(incident.id, "action_status", actor_id=actor, text=item.text, at=deps.clock(),
                                 data={"number": number, "status": status}, session=unit.session)
            await outbox.owe_message(unit, incident, "action_status",
                                     messages.updated(deps.renderer, item=item, actor=actor))
            if (status == "completed") != (previous == "completed"):  # the issue is open or closed, no between
                await followups.owe_state(unit, incident, item)
    return item


async def actions(incident: Incident, deps: Deps) -> list[ActionItem]:
    async with deps.db.session() as session:
        return await repo.actions_of(incident.id, session=session)
