"""The Web API methods irbot calls: required arguments, rate tier, provenance.

This is our own table, written out as facts (not loaded at runtime) from:
- Slack's Web API OpenAPI spec (Oct 2020) for required arguments, plus what each
  method's reference page requires but the spec does not mark (e.g. `name` on
  conversations.create);
- java-slack-sdk's ``rate_limit_tiers.json`` for the tiers.

`token` is never listed: it travels in the Authorization header.
Methods newer than the 2020 spec carry the docs.slack.dev page they come from;
``tests/testing/test_fake_slack.py`` cross-checks the rest against the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://docs.slack.dev/reference/methods/"

# Requests per minute each tier allows (Slack's floors; the Java SDK assumes the same).
TIER_PER_MINUTE: dict[str, int] = {
    "Tier1": 1,
    "Tier2": 20,
    "Tier3": 50,
    "Tier4": 100,
    "Special:auth.test": 600,
    "Special:chat.getPermalink": 600,
    # chat.postMessage: ~1/s per channel plus a workspace cap; see fake/limits.py.
    "Special:chat.postMessage": 300,
}


@dataclass(frozen=True)
class MethodSpec:
    name: str
    required: tuple[str, ...]
    tier: str
    newer_than_spec: bool = False
    reference_url: str | None = None

    @property
    def per_minute(self) -> int:
        return TIER_PER_MINUTE[self.tier]


def _m(name: str, required: tuple[str, ...], tier: str, newer: bool = False) -> MethodSpec:
    return MethodSpec(name, required, tier, newer, DOCS + name if newer else None)


METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        _m("auth.test", (), "Special:auth.test"),
        _m("conversations.create", ("name",), "Tier2"),
        _m("conversations.setTopic", ("channel", "topic"), "Tier2"),
        _m("conversations.setPurpose", ("channel", "purpose"), "Tier2"),
        _m("conversations.invite", ("channel", "users"), "Tier3"),
        _m("conversations.join", ("channel",), "Tier3"),
        _m("conversations.list", (), "Tier2"),
        _m("conversations.info", ("channel",), "Tier3"),
        _m("conversations.members", ("channel",), "Tier4"),
        _m("conversations.history", ("channel",), "Tier3"),
        _m("conversations.replies", ("channel", "ts"), "Tier3"),
        # conversations.open takes `users` or `channel`; neither alone is required.
        _m("conversations.open", (), "Tier3"),
        # `text` is required unless `blocks`/`attachments` are given: checked in the handler.
        _m("chat.postMessage", ("channel",), "Special:chat.postMessage"),
        _m("chat.update", ("channel", "ts"), "Tier3"),
        _m("chat.postEphemeral", ("channel", "user"), "Tier4"),
        _m("chat.getPermalink", ("channel", "message_ts"), "Special:chat.getPermalink"),
        _m("chat.delete", ("channel", "ts"), "Tier3"),
        _m("pins.add", ("channel", "timestamp"), "Tier2"),
        _m("pins.list", ("channel",), "Tier2"),
        _m("reactions.add", ("channel", "name", "timestamp"), "Tier3"),
        _m("views.open", ("trigger_id", "view"), "Tier4"),
        # views.update takes `view_id` or `external_id`: checked in the handler.
        _m("views.update", ("view",), "Tier4"),
        _m("views.push", ("trigger_id", "view"), "Tier4"),
        _m("views.publish", ("user_id", "view"), "Tier4"),
        _m("users.info", ("user",), "Tier4"),
        _m("users.list", (), "Tier2"),
        _m("files.info", ("file",), "Tier4"),
        _m("files.getUploadURLExternal", ("filename", "length"), "Tier4", newer=True),
        _m("files.completeUploadExternal", ("files",), "Tier4", newer=True),
        _m("bookmarks.add", ("channel_id", "title", "type"), "Tier2", newer=True),
        _m("bookmarks.edit", ("channel_id", "bookmark_id"), "Tier2", newer=True),
        _m("usergroups.list", (), "Tier2"),
        _m("usergroups.users.list", ("usergroup",), "Tier2"),
        # Socket Mode; takes the app-level token (xapp-), not the bot's. Not in the 2020 spec.
        _m("apps.connections.open", (), "Tier1", newer=True),
    )
}

# What Slack answers when a required argument is missing (default: invalid_arguments);
# "method:arg" keys override the per-argument ones.
MISSING_ARG_ERROR: dict[str, str] = {
    "channel": "channel_not_found",
    "channel_id": "channel_not_found",
    "user": "user_not_found",
    "users": "no_user",
    "ts": "message_not_found",
    "timestamp": "no_item_specified",
    "message_ts": "message_not_found",
    "conversations.create:name": "invalid_name_required",
    "reactions.add:name": "invalid_name",
    "topic": "invalid_arguments",
    "trigger_id": "invalid_trigger_id",
    "views.publish:user_id": "invalid_arguments",
}


def missing_arg_error(method: str, arg: str) -> str:
    specific = MISSING_ARG_ERROR.get(f"{method}:{arg}")
    return specific or MISSING_ARG_ERROR.get(arg, "invalid_arguments")
