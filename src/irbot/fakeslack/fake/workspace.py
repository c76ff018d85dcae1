"""Workspace state and the primitive changes every path goes through.

People (the fake's people API) and the bot (Web API handlers) change the
workspace through the same primitives, so both produce the same history
entries, system messages and Events API callbacks, as in Slack.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .events import EventDelivery
from .model import Channel, Json, SlackError, Trigger, UploadedFile, User, ViewRecord

PEOPLE = {"alice": "Alice Archer", "bob": "Bob Baker", "carol": "Carol Chen",
          "dave": "Dave Dunn", "erin": "Erin Evans"}
TRIGGER_LIFETIME = 3.0


class Workspace:
    def __init__(self, *, team_id: str, bot_token: str, signing_secret: str) -> None:
        self.team_id = team_id
        self.team_domain = "irbot-fake"
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.verification_token = "fake-verification-token"  # legacy field Slack still sends
        self.app_id = "A0IRBOT"
        self.bot_user_id = "U0BOT"
        self.bot_id = "B0BOT"
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, ViewRecord] = {}
        self.home_views: dict[str, ViewRecord] = {}  # each person's Home tab, as last published
        self.triggers: dict[str, Trigger] = {}
        self.files: dict[str, UploadedFile] = {}
        self.ephemeral_store: list[Json] = []
        self.response_urls: dict[str, Json] = {}
        self.usergroups: list[Json] = []
        self.violations: list[str] = []
        self.trigger_lifetime = TRIGGER_LIFETIME
        self.clock = time.time  # tests may pin it; ts stay strictly increasing regardless
        self.app_url: str | None = None
        self._deliver_events: bool | None = None
        self.events = EventDelivery(self)
        self._last_ts = 0.0
        self._counters: dict[str, int] = {}
        self._seed()

    # ---- seeding -------------------------------------------------------
    def _seed(self) -> None:
        self.users[self.bot_user_id] = User(self.bot_user_id, "irbot", "irbot", is_bot=True, bot_id=self.bot_id)
        for name, real in PEOPLE.items():
            self.add_user(name, real, email=f"{name}@example.com")
        self.add_user("zed", "Zed Zimmer", deleted=True)
        self.add_user("otherbot", "Other Bot", is_bot=True, bot_id="B0OTHER")
        people = [f"U0{n.upper()}" for n in PEOPLE]
        self.add_channel("general", members=[self.bot_user_id, *people], channel_id="C0GENERAL",
                         creator="U0ALICE")
        self.add_channel("incidents", members=people, channel_id="C0INCIDENTS", creator="U0ALICE")
        self.usergroups.append({"id": "S0ONCALL", "team_id": self.team_id, "handle": "oncall",
                                "name": "On-call", "is_usergroup": True, "date_delete": 0,
                                "users": ["U0ALICE", "U0BOB"], "user_count": 2})

    def add_user(self, name: str, real_name: str | None = None, *, is_bot: bool = False,
                 deleted: bool = False, bot_id: str | None = None, email: str | None = None,
                 tz: str = "Europe/London", user_id: str | None = None) -> User:
        user = User(user_id or f"U0{name.upper()}", name, real_name or name.title(),
                    is_bot=is_bot, deleted=deleted, bot_id=bot_id, email=email, tz=tz)
        self.users[user.id] = user
        return user

    def add_channel(self, name: str, is_private: bool = False, members: list[str] | None = None,
                    *, creator: str | None = None, channel_id: str | None = None) -> Channel:
        ids = [self.user_id(m) for m in members or []]
        ch = Channel(channel_id or self.new_id("C"), name, is_private=is_private,
                     creator=creator or (ids[0] if ids else self.bot_user_id), members=ids,
                     created=int(self.clock()))
        self.channels[ch.id] = ch
        return ch

    # ---- ids, ts, lookups ----------------------------------------------
    def new_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}{n:08d}"

    def next_ts(self) -> str:
        """Slack's ts: seconds.microseconds, unique and increasing per workspace here."""
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = round(now, 6)
        return f"{self._last_ts:.6f}"

    def user_id(self, ref: str | User) -> str:
        if isinstance(ref, User):
            return ref.id
        if ref in self.users:
            return ref
        name = ref.lstrip("@")
        for u in self.users.values():
            if u.name == name:
                return u.id
        raise KeyError(f"no such user {ref!r}")

    def find_channel(self, ref: str) -> Channel | None:
        """By id or by name (with or without '#'); no visibility rules."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def visible_channel(self, ref: str, *, allow_name: bool = False) -> Channel:
        """What the bot may address: ids only unless allow_name; private needs membership."""
        ch = self.channels.get(ref) if not allow_name else self.find_channel(ref)
        if ch is None or (ch.is_private and self.bot_user_id not in ch.members):
            raise SlackError("channel_not_found")
        if ch.is_im and self.bot_user_id not in ch.members:
            raise SlackError("channel_not_found")
        return ch

    def dm_channel(self, user_id: str) -> Channel:
        for ch in self.channels.values():
            if ch.is_im and ch.im_user == user_id:
                return ch
        ch = Channel(self.new_id("D"), "", is_im=True, im_user=user_id,
                     members=[self.bot_user_id, user_id], creator=self.bot_user_id)
        self.channels[ch.id] = ch
        return ch

    @property
    def deliver_events(self) -> bool:
        return self.app_url is not None if self._deliver_events is None else self._deliver_events

    @deliver_events.setter
    def deliver_events(self, value: bool) -> None:
        self._deliver_events = value

    def violation(self, text: str) -> None:
        self.violations.append(text)

    # ---- messages ------------------------------------------------------
    def bot_fields(self) -> Json:
        """What Slack attaches to a message the bot posted with its bot token."""
        return {"user": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id,
                "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "irbot",
                                "deleted": False, "team_id": self.team_id, "updated": 1764489600,
                                "icons": {"image_48": "https://avatars.fake/irbot_48.png"}}}

    def add_message(self, ch: Channel, fields: Json, *, thread_ts: str | None = None,
                    broadcast: bool = False) -> Json:
        ts = self.next_ts()
        msg: Json = {"type": "message", "ts": ts, "team": self.team_id, "text": "", **fields}
        if thread_ts:
            parent = ch.messages.get(thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            thread_ts = parent.get("thread_ts", thread_ts)  # replies to replies join the thread
            msg["thread_ts"] = thread_ts
            msg["parent_user_id"] = ch.messages[thread_ts].get("user")
            if broadcast:
                msg["subtype"] = "thread_broadcast"
            self._count_reply(ch.messages[thread_ts], msg)
        ch.messages[ts] = msg
        self.emit(ch, {**copy.deepcopy(msg), "channel": ch.id, "event_ts": ts, "channel_type": ch.channel_type})
        return msg

    @staticmethod
    def _count_reply(parent: Json, reply: Json) -> None:
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        users = parent.setdefault("reply_users", [])
        if reply.get("user") and reply["user"] not in users:
            users.append(reply["user"])
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = reply["ts"]

    def system_message(self, ch: Channel, subtype: str, user: str, text: str, **extra: Any) -> Json:
        return self.add_message(ch, {"subtype": subtype, "user": user, "text": text, **extra})

    def edit_message(self, ch: Channel, ts: str, changes: Json, editor: str) -> Json:
        msg = self._message(ch, ts)
        previous = copy.deepcopy(msg)
        msg.update(changes)
        if "blocks" in changes and changes["blocks"] is None:
            msg.pop("blocks")
        msg["edited"] = {"user": editor, "ts": self.next_ts()}
        self.emit(ch, {"type": "message", "subtype": "message_changed", "hidden": True, "channel": ch.id,
                       "channel_type": ch.channel_type, "ts": msg["edited"]["ts"],
                       "event_ts": msg["edited"]["ts"], "message": copy.deepcopy(msg),
                       "previous_message": previous})
        return msg

    def remove_message(self, ch: Channel, ts: str) -> Json:
        msg = ch.messages.pop(self._message(ch, ts)["ts"])
        parent = ch.messages.get(msg.get("thread_ts", ""))
        if parent is not None and parent is not msg:
            parent["reply_count"] = max(0, parent.get("reply_count", 1) - 1)
        ch.pins = [p for p in ch.pins if p["message"]["ts"] != ts]
        event_ts = self.next_ts()
        self.emit(ch, {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": ch.id,
                       "channel_type": ch.channel_type, "ts": event_ts, "event_ts": event_ts,
                       "deleted_ts": ts, "previous_message": copy.deepcopy(msg)})
        return msg

    def _message(self, ch: Channel, ts: str) -> Json:
        msg = ch.messages.get(ts)
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def add_reaction(self, ch: Channel, ts: str, name: str, user: str) -> None:
        msg = self._message(ch, ts)
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if user in entry["users"]:
            raise SlackError("already_reacted")
        entry["users"].append(user)
        entry["count"] += 1
        self.emit(ch, {"type": "reaction_added", "user": user, "reaction": name, "item_user": msg.get("user"),
                       "item": {"type": "message", "channel": ch.id, "ts": ts}, "event_ts": self.next_ts()})

    def add_pin(self, ch: Channel, ts: str, user: str) -> Json:
        msg = self._message(ch, ts)
        if any(p["message"]["ts"] == ts for p in ch.pins):
            raise SlackError("already_pinned")
        item = {"type": "message", "created": int(self.clock()), "created_by": user, "channel": ch.id,
                "message": copy.deepcopy(msg)}
        ch.pins.append(item)
        self.system_message(ch, "pinned_item", user, f"<@{user}> pinned a message to this channel.",
                            item_type="C", item={"type": "message", "ts": ts})
        self.emit(ch, {"type": "pin_added", "user": user, "channel_id": ch.id, "item": copy.deepcopy(item),
                       "item_user": msg.get("user"), "pin_count": len(ch.pins),
                       "pinned_info": {"channel": ch.id, "pinned_by": user, "pinned_ts": int(self.clock())},
                       "event_ts": self.next_ts()})
        return item

    def add_member(self, ch: Channel, user: str, inviter: str | None = None) -> None:
        ch.members.append(user)
        extra = {"inviter": inviter} if inviter else {}
        self.system_message(ch, "channel_join", user, f"<@{user}> has joined the channel", **extra)
        self.emit(ch, {"type": "member_joined_channel", "user": user, "channel": ch.id,
                       "channel_type": "G" if ch.is_private else "C", "team": self.team_id,
                       "event_ts": self.next_ts(), **extra})

    def remove_member(self, ch: Channel, user: str) -> None:
        """Someone leaves (or is removed): Slack writes ``channel_leave`` and sends member_left_channel."""
        self.system_message(ch, "channel_leave", user, f"<@{user}> has left the channel")
        ch.members.remove(user)
        self.emit(ch, {"type": "member_left_channel", "user": user, "channel": ch.id,
                       "channel_type": "G" if ch.is_private else "C", "team": self.team_id,
                       "event_ts": self.next_ts()})

    def set_topic(self, ch: Channel, topic: str, user: str) -> None:
        ch.topic = {"value": topic, "creator": user, "last_set": int(self.clock())}
        self.system_message(ch, "channel_topic", user, f"<@{user}> set the channel topic: {topic}", topic=topic)

    def set_purpose(self, ch: Channel, purpose: str, user: str) -> None:
        ch.purpose = {"value": purpose, "creator": user, "last_set": int(self.clock())}
        self.system_message(ch, "channel_purpose", user, f"<@{user}> set the channel description: {purpose}",
                            purpose=purpose)

    def add_ephemeral(self, ch: Channel, user: str, text: str, blocks: list | None, source: str,
                      thread_ts: str | None = None) -> Json:
        entry = {"type": "message", "ts": self.next_ts(), "channel": ch.id, "user": user, "text": text or "",
                 "blocks": blocks or [], "source": source, "thread_ts": thread_ts, "is_ephemeral": True,
                 **{k: v for k, v in self.bot_fields().items() if k != "user"}}
        self.ephemeral_store.append(entry)
        return entry

    def emit(self, ch: Channel, event: Json) -> None:
        """Events reach the app only for conversations the bot is in (as in Slack)."""
        if self.bot_user_id in ch.members:
            self.events.emit(event)

    # ---- triggers ------------------------------------------------------
    def issue_trigger(self, user: str, view_id: str | None = None) -> str:
        trigger = Trigger(f"{self.new_id('')}.{self.team_id}.fake{len(self.triggers):04d}", user,
                          time.monotonic(), view_id=view_id)
        self.triggers[trigger.id] = trigger
        return trigger.id

    def use_trigger(self, trigger_id: str) -> Trigger:
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued_at > self.trigger_lifetime:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def expire_trigger(self, trigger_id: str) -> None:
        self.triggers[trigger_id].issued_at -= self.trigger_lifetime + 1
