"""response_url: what Slack does with a JSON body POSTed to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import validation
from .model import Json, SlackError

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

MAX_USES = 5
LIFETIME = 30 * 60.0


def issue_response_url(fake: FakeSlack, user: str, channel: str, *, message_ts: str | None = None,
                       is_ephemeral: bool = False) -> str:
    rid = fake.new_id("R")
    fake.response_urls[rid] = {"id": rid, "user": user, "channel": channel, "message_ts": message_ts,
                               "is_ephemeral": is_ephemeral, "uses": 0, "issued_at": None}
    return f"{fake.base_url}response/{rid}"


def handle_response_url(fake: FakeSlack, entry: Json, body: Json, now: float) -> tuple[int, str]:
    """Apply one use of a response_url; returns (HTTP status, error text)."""
    entry["issued_at"] = entry["issued_at"] or now
    if entry["uses"] >= MAX_USES or now - entry["issued_at"] > LIFETIME:
        fake.violation(f"response_url {entry['id']} used more than {MAX_USES} times or after 30 minutes")
        return 404, "used_url"
    blocks = body.get("blocks")
    problems = validation.check_message_blocks(blocks) + validation.check_text(body.get("text"), bool(blocks))
    if problems:
        for p in problems:
            fake.violation(f"response_url: {p}")
        if validation.check_message_blocks(blocks):
            return 400, "invalid_blocks"
    entry["uses"] += 1
    try:
        _apply(fake, entry, body)
    except SlackError as err:
        return 404, err.code
    return 200, ""


def _apply(fake: FakeSlack, entry: Json, body: Json) -> None:
    ch = fake.channels[entry["channel"]]
    text, blocks = body.get("text") or "", body.get("blocks")
    if body.get("delete_original"):
        _delete_original(fake, entry)
    elif body.get("replace_original") and entry["message_ts"]:
        _replace_original(fake, entry, text, blocks)
    elif body.get("response_type") == "in_channel":
        # Slack posts it as the app, even where the bot is not a member.
        fields = {**fake.bot_fields(), "text": text, **({"blocks": blocks} if blocks else {})}
        fake.add_message(ch, fields, thread_ts=body.get("thread_ts"))
    else:
        fake.add_ephemeral(ch, entry["user"], text, blocks, "response_url", thread_ts=body.get("thread_ts"))


def _delete_original(fake: FakeSlack, entry: Json) -> None:
    ts = entry["message_ts"]
    if ts is None:
        raise SlackError("no_original_message")
    if entry["is_ephemeral"]:
        fake.ephemeral_store[:] = [e for e in fake.ephemeral_store if e["ts"] != ts]
    else:
        fake.remove_message(fake.channels[entry["channel"]], ts)


def _replace_original(fake: FakeSlack, entry: Json, text: str, blocks: list | None) -> None:
    ts = entry["message_ts"]
    if entry["is_ephemeral"]:
        for e in fake.ephemeral_store:
            if e["ts"] == ts:
                e.update({"text": text, "blocks": blocks or []})
        return
    fake.edit_message(fake.channels[entry["channel"]], ts, {"text": text, "blocks": blocks}, fake.bot_user_id)
