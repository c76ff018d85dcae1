"""Shared by the Web API handlers: registry, pagination, message checks."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from . import validation
from .model import Channel, Json, SlackError

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

Handler = Callable[["FakeSlack", Json], Json]
HANDLERS: dict[str, Handler] = {}
T = TypeVar("T")


def handles(method: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[method] = fn
        return fn
    return register


def paginate(items: Sequence[T], args: Json, key: Callable[[T], str], *,
             default_limit: int = 100, max_limit: int = 1000) -> tuple[list[T], str]:
    """Cursor pagination; the cursor names the last key served, so it stays stable."""
    limit = int(args.get("limit") or default_limit)
    limit = max(1, min(limit, max_limit))
    start = 0
    cursor = args.get("cursor")
    if cursor:
        try:
            after = base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("after:")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SlackError("invalid_cursor") from exc
        keys = [key(i) for i in items]
        if after not in keys:
            raise SlackError("invalid_cursor")
        start = keys.index(after) + 1
    page = list(items[start:start + limit])
    more = start + limit < len(items)
    next_cursor = base64.urlsafe_b64encode(f"after:{key(page[-1])}".encode()).decode() if more and page else ""
    return page, next_cursor


def require_member(fake: FakeSlack, ch: Channel) -> None:
    if ch.is_archived:
        raise SlackError("is_archived")
    if fake.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")


def check_message_content(fake: FakeSlack, method: str, args: Json, *, need_content: bool = True) -> None:
    """Slack's checks on text/blocks, plus our own stricter ones (recorded as violations)."""
    text, blocks = args.get("text"), args.get("blocks")
    if need_content and not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    problems = validation.check_message_blocks(blocks)
    if problems:
        _refuse(fake, method, problems, "invalid_blocks")
    text_problems = validation.check_text(text, bool(blocks))
    for p in text_problems:
        fake.violation(f"{method}: {p}")
    if isinstance(text, str) and len(text) > validation.MAX_TEXT:
        raise SlackError("msg_too_long")


def check_view_content(fake: FakeSlack, method: str, view: Any) -> None:
    problems = validation.check_view(view)
    if problems:
        # Slack refuses a bad view with invalid_arguments and explains in response_metadata.
        _refuse(fake, method, problems, "invalid_arguments")


def _refuse(fake: FakeSlack, method: str, problems: list[str], code: str) -> None:
    for p in problems:
        fake.violation(f"{method}: {p}")
    raise SlackError(code, response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def message_out(msg: Json) -> Json:
    """A stored message as the Web API returns it (our bookkeeping keys removed)."""
    return {k: v for k, v in msg.items() if k not in {"source", "is_ephemeral"}}
