"""conversations.* handlers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .apiutil import handles, message_out, paginate, require_member
from .model import Channel, Json, SlackError, truthy
from .validation import MAX_TOPIC

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

NAME_OK = re.compile(r"^[a-z0-9_-]+$")


def check_channel_name(name: str) -> None:
    """Slack's naming rules for conversations.create (names are always validated)."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if all(c in "-_" for c in name):
        raise SlackError("invalid_name_punctuation")
    if not NAME_OK.match(name):
        raise SlackError("invalid_name_specials")


@handles("conversations.create")
def create(fake: FakeSlack, args: Json) -> Json:
    name = str(args.get("name") or "")
    check_channel_name(name)
    if fake.find_channel(name) is not None:
        raise SlackError("name_taken")
    ch = fake.add_channel(name, is_private=truthy(args.get("is_private", False)), members=[],
                          creator=fake.bot_user_id)
    fake.add_member(ch, fake.bot_user_id)
    return {"channel": ch.to_api(fake.bot_user_id)}


@handles("conversations.setTopic")
def set_topic(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    require_member(fake, ch)
    topic = str(args["topic"])
    if len(topic) > MAX_TOPIC:
        fake.violation(f"conversations.setTopic: topic is {len(topic)} chars (max {MAX_TOPIC})")
        raise SlackError("too_long")
    fake.set_topic(ch, topic, fake.bot_user_id)
    return {"channel": ch.to_api(fake.bot_user_id)}


@handles("conversations.setPurpose")
def set_purpose(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    require_member(fake, ch)
    purpose = str(args["purpose"])
    if len(purpose) > MAX_TOPIC:
        fake.violation(f"conversations.setPurpose: purpose is {len(purpose)} chars (max {MAX_TOPIC})")
        raise SlackError("too_long")
    fake.set_purpose(ch, purpose, fake.bot_user_id)
    return {"channel": ch.to_api(fake.bot_user_id)}


def _invite_error(fake: FakeSlack, ch: Channel, uid: str) -> str | None:
    user = fake.users.get(uid)
    if uid == fake.bot_user_id:
        return "cant_invite_self"
    if user is None:
        return "user_not_found"
    if user.deleted:
        return "user_is_deactivated"
    if uid in ch.members:
        return "already_in_channel"
    return None


@handles("conversations.invite")
def invite(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    require_member(fake, ch)
    uids = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
    if not uids:
        raise SlackError("no_user")
    errors = [{"user": u, "ok": False, "error": e} for u in uids if (e := _invite_error(fake, ch, u))]
    if errors and not truthy(args.get("force", False)):
        # All or nothing: one bad user and nobody is invited.
        raise SlackError(errors[0]["error"], errors=errors)
    bad = {e["user"] for e in errors}
    for uid in uids:
        if uid not in bad and uid not in ch.members:
            fake.add_member(ch, uid, inviter=fake.bot_user_id)
    out: Json = {"channel": ch.to_api(fake.bot_user_id)}
    if errors:
        out["errors"] = errors
    return out


@handles("conversations.join")
def join(fake: FakeSlack, args: Json) -> Json:
    ch = fake.channels.get(args["channel"])
    if ch is None or ch.is_im or (ch.is_private and fake.bot_user_id not in ch.members):
        raise SlackError("channel_not_found")
    if ch.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if ch.is_archived:
        raise SlackError("is_archived")
    if fake.bot_user_id in ch.members:
        return {"channel": ch.to_api(fake.bot_user_id), "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    fake.add_member(ch, fake.bot_user_id)
    return {"channel": ch.to_api(fake.bot_user_id)}


@handles("conversations.list")
def list_(fake: FakeSlack, args: Json) -> Json:
    types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
    exclude_archived = truthy(args.get("exclude_archived", False))
    chans = [c for c in fake.channels.values() if _listed(fake, c, types)
             and not (exclude_archived and c.is_archived)]
    page, cursor = paginate(chans, args, lambda c: c.id)
    return {"channels": [c.to_api(fake.bot_user_id) for c in page],
            "response_metadata": {"next_cursor": cursor}}


def _listed(fake: FakeSlack, ch: Channel, types: set[str]) -> bool:
    if ch.is_im:
        return "im" in types
    if ch.is_private:
        return "private_channel" in types and fake.bot_user_id in ch.members
    return "public_channel" in types


@handles("conversations.info")
def info(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    return {"channel": ch.to_api(fake.bot_user_id)}


@handles("conversations.members")
def members(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    page, cursor = paginate(ch.members, args, lambda u: u)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def _window(args: Json) -> tuple[float, float, bool]:
    oldest = float(args.get("oldest") or 0)
    latest = float(args.get("latest") or 1e12)
    return oldest, latest, truthy(args.get("inclusive", False))


def _in_window(ts: str, oldest: float, latest: float, inclusive: bool) -> bool:
    t = float(ts)
    if inclusive:
        return oldest <= t <= latest
    return oldest < t < latest


@handles("conversations.history")
def history(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    if fake.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    oldest, latest, inclusive = _window(args)
    top = [m for m in ch.messages.values() if _is_top_level(m) and _in_window(m["ts"], oldest, latest, inclusive)]
    top.reverse()  # newest first
    page, cursor = paginate(top, args, lambda m: m["ts"], max_limit=999)
    return {"messages": [message_out(m) for m in page], "has_more": bool(cursor), "pin_count": len(ch.pins),
            "response_metadata": {"next_cursor": cursor}}


def _is_top_level(msg: Json) -> bool:
    return msg.get("thread_ts") in (None, msg["ts"]) or msg.get("subtype") == "thread_broadcast"


@handles("conversations.replies")
def replies(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(args["channel"])
    if fake.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    parent = ch.messages.get(args["ts"])
    if parent is None:
        raise SlackError("thread_not_found")
    if parent.get("thread_ts") not in (None, parent["ts"]):
        thread = [parent]  # asking for a reply's ts returns just that reply
    else:
        oldest, latest, inclusive = _window(args)
        thread = [parent] + [m for m in ch.messages.values() if m.get("thread_ts") == parent["ts"]
                             and m is not parent and _in_window(m["ts"], oldest, latest, inclusive)]
    page, cursor = paginate(thread, args, lambda m: m["ts"], default_limit=1000, max_limit=999)
    return {"messages": [message_out(m) for m in page], "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor}}


@handles("conversations.open")
def open_(fake: FakeSlack, args: Json) -> Json:
    if args.get("channel"):
        ch = fake.visible_channel(args["channel"])
        return {"channel": ch.to_api(fake.bot_user_id)}
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 1:
        raise SlackError("not_modelled_by_fake", detail="group DMs (mpim) are not modelled")
    user = fake.users.get(users[0])
    if user is None:
        raise SlackError("user_not_found")
    if user.deleted:
        raise SlackError("user_disabled")
    ch = fake.dm_channel(user.id)
    out = ch.to_api(fake.bot_user_id) if truthy(args.get("return_im", False)) else {"id": ch.id}
    return {"channel": out, "no_op": True, "already_open": True}
