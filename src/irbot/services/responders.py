"""Responders by rule: ``[[responders]]`` invite a user group's members or listed people into the
channel of a matching incident, at declare and when the severity rises into the rule.

A rule matches when each of its filters does (an empty filter matches any incident): the type,
the severity, the affected services (the words of the declare form's "affected services",
compared case-insensitively). The invitations are owed work of the change (the set-up's last
write, or the severity change); a group's members are read with ``usergroups.users.list`` when
the work runs, so a rota change made since the settings were written is honoured.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable

from irbot.config import Responders
from irbot.domain.incident import incident_ref
from irbot.outbound.slack import SlackCallError, SlackUnreachable
from irbot.services import outbox
from irbot.store.models import Incident
from irbot.work.engine import Engine, Facts, Job, Step
from irbot.work.unit import UnitOfWork

log = logging.getLogger(__name__)
MAX_GROUP_INVITES = 200  # a group bigger than this is a broadcast list, not responders


def service_words(services: str) -> set[str]:
    return {word for word in re.split(r"[\s,;/]+", services.lower()) if word}


def matching(rules: Iterable[Responders], incident: Incident, *, previous_severity: str | None = None) -> list[Responders]:
    """The rules the incident matches; with ``previous_severity`` (a raise), only the rules that
    did not match at the previous level (the severity rose into them)."""
    words = service_words(incident.services or "")
    found = []
    for rule in rules:
        if rule.types and incident.type not in rule.types:
            continue
        if rule.services and not words & set(rule.services):
            continue
        if rule.severities and incident.severity not in rule.severities:
            continue
        if previous_severity is not None and (not rule.severities or previous_severity in rule.severities):
            continue  # it matched before the raise: its people were invited then
        found.append(rule)
    return found


async def owe_invites(incident: Incident, unit: UnitOfWork, *, previous_severity: str | None = None) -> int:
    """Owe the invitations of every matching rule; returns how many steps were owed."""
    rules = unit.deps.settings.responders
    if not rules or incident.drill:
        return 0
    steps: list[Step] = []
    users: list[str] = []
    for rule in matching(rules, incident, previous_severity=previous_severity):
        if rule.usergroup:
            steps.append({"do": "invite_usergroup", "usergroup": rule.usergroup, "wave": 0})
        users.extend(u for u in rule.users if u not in users)
    steps.extend(outbox.invite(user, wave=0) for user in users)
    if steps:
        assert incident.id is not None
        await unit.owe(incident.id, "responders", steps)
    return len(steps)


def register(engine: Engine) -> None:
    engine.handle("invite_usergroup", _invite_usergroup)


async def _invite_usergroup(step: Step, job: Job) -> Facts | None:
    deps, incident = job.deps, job.incident
    answer = await deps.slack.call("usergroups.users.list", usergroup=step["usergroup"])
    members = [u for u in answer.get("users", []) if u != deps.workspace.bot_user_id][:MAX_GROUP_INVITES]
    for user in members:
        try:
            await deps.slack.invite(incident.channel_id, user)
        except SlackUnreachable:
            raise  # Slack is out: the engine retries the whole step later (invites are idempotent)
        except SlackCallError as exc:  # one person Slack will not invite does not stop the others
            log.warning("%s: could not invite %s of %s: %s", incident_ref(incident.number), user,
                        step["usergroup"], exc.code)
    return None
