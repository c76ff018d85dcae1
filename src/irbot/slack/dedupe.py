"""A request Slack (or a double click) sends again has one effect.

A replayed command or click carries the same ``trigger_id``. The first delivery claims its key
in the database (shared by every replica); repeats are acknowledged and dropped. A delivery that
fails releases its claim, so Slack's retry of it is still processed.

Events (Slack retries them with the same ``event_id``) are not claimed: everything irbot does
with one is stored under the message's own key (``msg:<ts>``, ``edit:…``, ``del:…``, ``key:…``,
unique per incident), so a retry, even one arriving beside the first delivery, is stored once by
that key. A claim would cost a database write on every message for nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from irbot.deps import Deps
from irbot.domain.commands import only_answers
from irbot.store import repo

log = logging.getLogger(__name__)


def delivery_key(body: dict[str, Any]) -> str | None:
    if body.get("type") == "event_callback":
        return None  # idempotent by their own keys (above)
    if body.get("type") in ("shortcut", "message_action"):
        return None  # they only open a form, and a trigger_id opens one form: a repeat opens nothing
    if body.get("command") and only_answers(str(body.get("text") or "")):
        return None  # answers only: a repeat is harmless, and a burst writes nothing before its acks
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


async def claim(deps: Deps, key: str) -> bool:
    """True for the first delivery of ``key`` (in any process); False for a repeat."""
    async with deps.db.single_write() as connection:
        first = await repo.claim_delivery(key, now=deps.clock(), connection=connection)
    if not first:
        log.info("repeat of %s acknowledged and dropped", key)
    return first


async def release(deps: Deps, key: str) -> None:
    """The delivery failed: let Slack's retry of it through."""
    # Not a unit of work: the trigger-id claim (taken before the ack) given back; nothing owed.
    async with deps.db.session() as session:
        await repo.release_delivery(key, session=session)
        await session.commit()
