"""chat.* handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .apiutil import check_message_content, handles, message_out, require_member
from .model import Channel, Json, SlackError, truthy

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack


def post_target(fake: FakeSlack, ref: str) -> Channel:
    """chat.postMessage/postEphemeral accept an ID, a name, or a user ID (their DM with the bot)."""
    if ref.startswith(("U", "W")) and ref in fake.users:
        user = fake.users[ref]
        if user.deleted:
            raise SlackError("user_disabled")
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        return fake.dm_channel(ref)
    ch = fake.visible_channel(ref, allow_name=True)
    require_member(fake, ch)  # no chat:write.public: the bot must be in the channel
    return ch


def content_fields(args: Json) -> Json:
    fields: Json = {"text": args.get("text") or ""}
    for key in ("blocks", "attachments", "metadata"):
        if args.get(key) is not None:
            fields[key] = args[key]
    return fields


@handles("chat.postMessage")
def post_message(fake: FakeSlack, args: Json) -> Json:
    ch = post_target(fake, str(args["channel"]))
    check_message_content(fake, "chat.postMessage", args)
    msg = fake.add_message(ch, {**fake.bot_fields(), **content_fields(args)},
                           thread_ts=args.get("thread_ts") or None,
                           broadcast=truthy(args.get("reply_broadcast", False)))
    return {"channel": ch.id, "ts": msg["ts"], "message": message_out(msg)}


def own_message(fake: FakeSlack, ch: Channel, ts: str, error: str) -> Json:
    msg = ch.messages.get(ts)
    if msg is None:
        raise SlackError("message_not_found")
    if msg.get("bot_id") != fake.bot_id:
        raise SlackError(error)
    return msg


@handles("chat.update")
def update(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    own_message(fake, ch, str(args["ts"]), "cant_update_message")
    check_message_content(fake, "chat.update", args, need_content=False)
    changes: Json = {}
    for key in ("text", "blocks", "attachments", "metadata"):
        if key in args:
            changes[key] = args[key]
    msg = fake.edit_message(ch, str(args["ts"]), changes, fake.bot_user_id)
    return {"channel": ch.id, "ts": msg["ts"], "text": msg.get("text", ""), "message": message_out(msg)}


@handles("chat.postEphemeral")
def post_ephemeral(fake: FakeSlack, args: Json) -> Json:
    ch = post_target(fake, str(args["channel"]))
    user = str(args["user"])
    if user not in fake.users:
        raise SlackError("user_not_found")
    if user not in ch.members:
        raise SlackError("user_not_in_channel")
    check_message_content(fake, "chat.postEphemeral", args)
    entry = fake.add_ephemeral(ch, user, args.get("text") or "", args.get("blocks"), "chat.postEphemeral",
                               thread_ts=args.get("thread_ts"))
    return {"message_ts": entry["ts"]}


@handles("chat.getPermalink")
def get_permalink(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    msg = ch.messages.get(str(args["message_ts"]))
    if msg is None:
        raise SlackError("message_not_found")
    link = f"https://{fake.team_domain}.slack.com/archives/{ch.id}/p{msg['ts'].replace('.', '')}"
    if msg.get("thread_ts") not in (None, msg["ts"]):
        link += f"?thread_ts={msg['thread_ts']}&cid={ch.id}"
    return {"channel": ch.id, "permalink": link}


@handles("chat.delete")
def delete(fake: FakeSlack, args: Json) -> Json:
    ch = fake.visible_channel(str(args["channel"]))
    own_message(fake, ch, str(args["ts"]), "cant_delete_message")
    fake.remove_message(ch, str(args["ts"]))
    return {"channel": ch.id, "ts": str(args["ts"])}
