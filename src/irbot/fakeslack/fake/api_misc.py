"""auth, users, usergroups, pins, reactions, files and bookmarks handlers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .apiutil import handles, message_out, paginate, require_member
from .model import Json, SlackError, UploadedFile, truthy

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack


@handles("auth.test")
def auth_test(fake: FakeSlack, args: Json) -> Json:
    return {"url": f"https://{fake.team_domain}.slack.com/", "team": "irbot fake", "user": "irbot",
            "team_id": fake.team_id, "user_id": fake.bot_user_id, "bot_id": fake.bot_id,
            "app_id": fake.app_id, "is_enterprise_install": False}


@handles("users.info")
def users_info(fake: FakeSlack, args: Json) -> Json:
    user = fake.users.get(str(args["user"]))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user.to_api(fake.team_id)}


@handles("users.list")
def users_list(fake: FakeSlack, args: Json) -> Json:
    page, cursor = paginate(list(fake.users.values()), args, lambda u: u.id, default_limit=200)
    return {"members": [u.to_api(fake.team_id) for u in page], "cache_ts": int(fake.clock()),
            "response_metadata": {"next_cursor": cursor}}


@handles("usergroups.list")
def usergroups_list(fake: FakeSlack, args: Json) -> Json:
    with_users = truthy(args.get("include_users", False))
    groups = [{k: v for k, v in g.items() if with_users or k != "users"} for g in fake.usergroups]
    return {"usergroups": groups}


@handles("usergroups.users.list")
def usergroups_users_list(fake: FakeSlack, args: Json) -> Json:
    """The group's members; a disabled group only with ``include_disabled``."""
    group = next((g for g in fake.usergroups if g["id"] == str(args["usergroup"])), None)
    if group is None or (group.get("date_delete") and not truthy(args.get("include_disabled", False))):
        raise SlackError("no_such_subteam")
    return {"users": list(group.get("users", []))}


@handles("pins.add")
def pins_add(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    require_member(fake, ch)
    fake.add_pin(ch, str(args["timestamp"]), fake.bot_user_id)
    return {}


@handles("pins.list")
def pins_list(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    items = [{**p, "message": message_out(ch.messages.get(p["message"]["ts"], p["message"]))} for p in ch.pins]
    return {"items": items}


@handles("reactions.add")
def reactions_add(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    name = str(args["name"]).strip(":")
    if not name or any(c.isspace() for c in name):
        raise SlackError("invalid_name")
    fake.add_reaction(ch, str(args["timestamp"]), name, fake.bot_user_id)
    return {}


@handles("files.getUploadURLExternal")
def get_upload_url(fake: FakeSlack, args: Json) -> Json:
    try:
        length = int(args["length"])
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_arguments") from exc
    f = UploadedFile(fake.new_id("F"), str(args["filename"]), length)
    fake.files[f.id] = f
    return {"upload_url": f"{fake.base_url}upload/{f.id}", "file_id": f.id}


@handles("files.completeUploadExternal")
def complete_upload(fake: FakeSlack, args: Json) -> Json:
    entries = args["files"]
    if isinstance(entries, str):
        entries = json.loads(entries)
    files = []
    for entry in entries:
        f = fake.files.get(str(entry.get("id")))
        if f is None:
            raise SlackError("file_not_found")
        if f.content is None:
            raise SlackError("file_upload_failed", detail=f"{f.id}: bytes were never uploaded")
        f.title = entry.get("title") or f.filename
        files.append(f)
    if args.get("channel_id"):
        _share(fake, files, args)
    return {"files": [{"id": f.id, "title": f.title} for f in files]}


def _share(fake: FakeSlack, files: list[UploadedFile], args: Json) -> None:
    ch = fake.visible_channel(str(args["channel_id"]))
    require_member(fake, ch)
    for f in files:
        f.shared_in.append(ch.id)
    fields = {**fake.bot_fields(), "text": args.get("initial_comment") or "", "upload": True,
              "files": [f.to_api(fake.bot_user_id) for f in files]}
    fake.add_message(ch, fields, thread_ts=args.get("thread_ts") or None)


@handles("files.info")
def files_info(fake: FakeSlack, args: Json) -> Json:
    f = fake.files.get(str(args["file"]))
    if f is None or f.content is None:
        raise SlackError("file_not_found")
    return {"file": f.to_api(fake.bot_user_id), "comments": [], "response_metadata": {"next_cursor": ""}}


@handles("bookmarks.add")
def bookmarks_add(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel_id"]))
    require_member(fake, ch)
    if args["type"] != "link":
        raise SlackError("invalid_bookmark_type")
    if not str(args.get("link") or "").startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    now = int(fake.clock())
    bookmark = {"id": fake.new_id("Bk"), "channel_id": ch.id, "title": args["title"], "link": args["link"],
                "emoji": args.get("emoji") or "", "icon_url": None, "type": "link", "entity_id": None,
                "date_created": now, "date_updated": 0, "rank": "U", "last_updated_by_user_id": fake.bot_user_id,
                "last_updated_by_team_id": fake.team_id, "shortcut_id": None, "app_id": fake.app_id}
    ch.bookmarks.append(bookmark)
    return {"bookmark": bookmark}


@handles("bookmarks.edit")
def bookmarks_edit(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel_id"]))
    require_member(fake, ch)
    bookmark = next((b for b in ch.bookmarks if b["id"] == str(args["bookmark_id"])), None)
    if bookmark is None:
        raise SlackError("not_found")
    if args.get("link") is not None and not str(args["link"]).startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    for key in ("title", "link", "emoji"):
        if args.get(key) is not None:
            bookmark[key] = args[key]
    bookmark.update(date_updated=int(fake.clock()), last_updated_by_user_id=fake.bot_user_id)
    return {"bookmark": bookmark}
