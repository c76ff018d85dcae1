"""What irbot knows of its Slack workspace: its own user, the announcement channel, people."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from irbot.config import ConfigError
from irbot.outbound.slack import SlackCallError, SlackGateway, SlackUnreachable

log = logging.getLogger(__name__)
USER_TTL_SECONDS = 600.0
# auth.test answers that mean the bot token itself is wrong: no number of tries will change them.
TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
# Seconds between tries of auth.test while Slack cannot be reached at start; the last one repeats.
CONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass
class Person:
    id: str
    name: str
    deleted: bool = False
    is_bot: bool = False


@dataclass
class Workspace:
    slack: SlackGateway
    announce_name: str
    bot_user_id: str | None = None
    announce_channel_id: str | None = None
    announce_problem: str | None = None
    _people: dict[str, tuple[float, Person]] = field(default_factory=dict)
    remembered: set[str] = field(default_factory=set)  # people whose names are stored already

    async def connect(self, *, on_unreachable: Callable[[str], None] = lambda why: None,
                      delays: Sequence[float] = CONNECT_DELAYS) -> None:
        """Learn who irbot is, then where to announce.

        Until Slack answers ``auth.test``, it is asked again after each of ``delays`` (the last one
        repeats) and ``on_unreachable`` is told why it did not answer. A token Slack refuses is a
        ConfigError naming SLACK_BOT_TOKEN: asking again cannot fix it. A problem with the
        announcement channel is logged and shown in help; declaring still works without it."""
        identity = await self._identify(on_unreachable, delays)
        self.bot_user_id = identity.get("user_id")
        try:
            await self._resolve_announce_channel()
        except SlackCallError as exc:
            self._problem(f"irbot could not look the announcement channel up ({exc.code})")

    async def _identify(self, on_unreachable: Callable[[str], None], delays: Sequence[float]) -> dict[str, Any]:
        tries = 0
        while True:
            try:
                return await self.slack.call_once("auth.test")
            except SlackUnreachable as exc:
                why = exc.why
            except SlackCallError as exc:
                if exc.code in TOKEN_REFUSED:
                    raise ConfigError(f"SLACK_BOT_TOKEN: Slack refused it ({exc.code}); give the Bot User OAuth "
                                      "Token (xoxb-…) of the app installed in this workspace") from None
                why = f"auth.test answered {exc.code}"
            delay = delays[min(tries, len(delays) - 1)]
            tries += 1
            on_unreachable(why)
            log.warning("Slack unreachable at start (%s); trying again in %.0f s", why, delay)
            await asyncio.sleep(delay)

    async def ensure_announce_channel(self) -> str | None:
        if self.announce_channel_id is None:
            await self._resolve_announce_channel()
        return self.announce_channel_id

    async def _resolve_announce_channel(self) -> None:
        wanted = self.announce_name.lstrip("#")
        channel = await self._find_channel(wanted)
        if channel is None:
            self._problem(f"the announcement channel #{wanted} was not found (for a private one, invite irbot)")
            return
        if not channel.get("is_member"):
            if channel.get("is_private"):
                self._problem(f"irbot is not a member of the private announcement channel #{wanted}: invite it")
                return
            try:
                await self.slack.call("conversations.join", channel=channel["id"])
            except SlackCallError as exc:
                self._problem(f"irbot could not join the announcement channel #{wanted} ({exc.code})")
                return
        self.announce_channel_id = channel["id"]
        self.announce_problem = None

    def _problem(self, text: str) -> None:
        self.announce_problem = f"Announcements are off: {text}. Declaring still works."
        log.error(self.announce_problem)

    async def _find_channel(self, wanted: str) -> dict[str, Any] | None:
        if wanted[:1] in ("C", "G") and wanted[1:].isalnum() and wanted.isupper():
            try:
                return (await self.slack.call("conversations.info", channel=wanted)).get("channel")
            except SlackCallError:
                return None
        return await self.channel_named(wanted)

    async def channel_named(self, name: str) -> dict[str, Any] | None:
        """A channel irbot can see (public, or private with irbot in it), by name."""
        async for channel in self.slack.paginate("conversations.list", "channels", limit=200, exclude_archived=True,
                                                 types="public_channel,private_channel"):
            if channel.get("name") == name:
                return channel
        return None

    async def person(self, user_id: str) -> Person | None:
        """users.info through a cache: one call per person, not per message."""
        cached = self._people.get(user_id)
        if cached and time.monotonic() - cached[0] < USER_TTL_SECONDS:
            return cached[1]
        try:
            user = (await self.slack.call("users.info", user=user_id)).get("user") or {}
        except SlackCallError as exc:
            if exc.code in ("user_not_found", "users_not_found"):
                return None
            raise
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or profile.get("real_name") or user.get("name") or user_id
        person = Person(id=user_id, name=name, deleted=bool(user.get("deleted")),
                        is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT")
        self._people[user_id] = (time.monotonic(), person)
        return person

    async def name_of(self, user_id: str | None) -> str | None:
        if not user_id:
            return None
        try:
            person = await self.person(user_id)
        except SlackCallError:
            return user_id
        return person.name if person else user_id
