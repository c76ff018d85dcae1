"""Workspace records the fake keeps: people, conversations, views, files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


class SlackError(Exception):
    """A business error: answered as HTTP 200 ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    deleted: bool = False
    bot_id: str | None = None
    tz: str = "Europe/London"
    email: str | None = None

    @property
    def display_name(self) -> str:
        return self.name

    def to_api(self, team_id: str) -> Json:
        profile: Json = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "image_48": f"https://avatars.fake/{self.id}_48.png",
            "team": team_id,
        }
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "updated": 1764489600,
            "profile": profile,
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    creator: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    members: list[str] = field(default_factory=list)
    topic: Json = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    purpose: Json = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    is_archived: bool = False
    is_im: bool = False
    im_user: str | None = None  # the person on the other side of a DM
    # ts -> message dict, kept in ts order by Workspace (ts are issued increasing)
    messages: dict[str, Json] = field(default_factory=dict)
    pins: list[Json] = field(default_factory=list)
    bookmarks: list[Json] = field(default_factory=list)

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` events carry."""
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"

    def to_api(self, viewer: str) -> Json:
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.im_user, "created": self.created,
                    "is_org_shared": False, "is_user_deleted": False, "priority": 0}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator,
            "unlinked": 0,
            "topic": dict(self.topic),
            "purpose": dict(self.purpose),
            "previous_names": [],
            "num_members": len(self.members),
        }


@dataclass
class ViewRecord:
    """One modal. ``stack`` links views opened over each other (root first)."""

    id: str
    user: str
    view: Json  # the validated view as the bot sent it
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    open: bool = True
    errors: dict[str, str] = field(default_factory=dict)
    state_values: Json = field(default_factory=dict)

    def to_api(self, team_id: str, app_id: str, bot_id: str) -> Json:
        v = self.view
        return {
            "id": self.id,
            "team_id": team_id,
            "type": v.get("type", "modal"),
            "title": v.get("title"),
            "submit": v.get("submit"),
            "close": v.get("close"),
            "blocks": v.get("blocks", []),
            "private_metadata": v.get("private_metadata", ""),
            "callback_id": v.get("callback_id", ""),
            "external_id": self.external_id or "",
            "state": {"values": self.state_values},
            "hash": self.hash,
            "clear_on_close": bool(v.get("clear_on_close", False)),
            "notify_on_close": bool(v.get("notify_on_close", False)),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": app_id,
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float  # time.monotonic()
    used: bool = False
    view_id: str | None = None  # set when the interaction happened inside a view


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    title: str = ""
    content: bytes | None = None
    shared_in: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def to_api(self, user: str) -> Json:
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": "application/octet-stream",
            "filetype": self.filename.rsplit(".", 1)[-1] if "." in self.filename else "binary",
            "user": user,
            "size": len(self.content or b""),
            "url_private": f"https://files.fake/{self.id}/{self.filename}",
            "permalink": f"https://irbot-fake.slack.com/files/{user}/{self.id}/{self.filename}",
            "channels": [c for c in self.shared_in if c.startswith("C")],
            "ims": [c for c in self.shared_in if c.startswith("D")],
            "groups": [],
        }


def truthy(value: Any) -> bool:
    """Slack's booleans arrive as true/false, "true"/"false", "1"/"0"."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)
