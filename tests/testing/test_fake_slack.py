"""Tests of the fake Slack itself, driven by slack_sdk's real AsyncWebClient."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from irbot.fakeslack import FakeSlack, SlackClient
from irbot.fakeslack.slack_methods import METHODS
from tests.slack_specs import spec_file
from tests.testing.conftest import Receiver

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


async def slack_error(coro: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await coro
    return info.value


# ---- Web API: channels and membership --------------------------------------

async def test_create_and_name_rules(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    created = await web_client.conversations_create(name="inc-42-checkout")
    channel = created["channel"]
    assert channel["id"].startswith("C") and channel["creator"] == fake.bot_user_id
    assert fake.bot_user_id in fake.channel("inc-42-checkout").members
    assert (await slack_error(web_client.conversations_create(name="inc-42-checkout"))).response["error"] == "name_taken"
    for name, code in [("Bad Name", "invalid_name_specials"), ("x" * 81, "invalid_name_maxlength"),
                       ("--", "invalid_name_punctuation"), ("", "invalid_name_required")]:
        assert (await slack_error(web_client.conversations_create(name=name))).response["error"] == code
    private = await web_client.conversations_create(name="inc-sec", is_private=True)
    assert private["channel"]["id"].startswith("C") and private["channel"]["is_private"] is True
    fake.assert_no_violations()


async def test_post_needs_membership_then_join(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    err = await slack_error(web_client.chat_postMessage(channel="incidents", text="hi"))
    assert err.response["error"] == "not_in_channel"
    err = await slack_error(web_client.conversations_setTopic(channel="incidents", topic="x"))
    assert err.response["error"] == "channel_not_found"  # names are not IDs outside chat.post*
    await web_client.conversations_join(channel="C0INCIDENTS")
    posted = await web_client.chat_postMessage(channel="#incidents", text="hi")
    assert posted["channel"] == "C0INCIDENTS"
    kinds = [m.get("subtype") for m in fake.messages("incidents")]
    assert kinds == ["channel_join", None]
    private = fake.add_channel("secret", is_private=True, members=["alice"])
    err = await slack_error(web_client.conversations_join(channel=private.id))
    assert err.response["error"] == "channel_not_found"  # invisible to non-members


async def test_invite_is_all_or_nothing(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    ch = (await web_client.conversations_create(name="inc-1"))["channel"]["id"]
    alice, zed = fake.user("alice").id, fake.user("zed").id
    err = await slack_error(web_client.conversations_invite(channel=ch, users=[alice, zed]))
    assert err.response["error"] == "user_is_deactivated"
    assert err.response["errors"] == [{"user": zed, "ok": False, "error": "user_is_deactivated"}]
    assert alice not in fake.channel(ch).members
    forced = await web_client.conversations_invite(channel=ch, users=[alice, zed], force=True)
    assert forced["ok"] and alice in fake.channel(ch).members
    join = [m for m in fake.messages(ch) if m.get("subtype") == "channel_join" and m["user"] == alice]
    assert join and join[0]["inviter"] == fake.bot_user_id
    err = await slack_error(web_client.conversations_invite(channel=ch, users=[alice]))
    assert err.response["error"] == "already_in_channel"
    err = await slack_error(web_client.conversations_invite(channel=ch, users=[fake.bot_user_id]))
    assert err.response["error"] == "cant_invite_self"


async def test_conversations_list_paginates_and_hides_private(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    for i in range(5):
        fake.add_channel(f"c{i}")
    fake.add_channel("hidden", is_private=True, members=["alice"])
    seen: list[str] = []
    cursor = None
    while True:
        page = await web_client.conversations_list(limit=3, cursor=cursor, types="public_channel,private_channel")
        seen += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert "hidden" not in seen and {"general", "incidents", "c4"} <= set(seen) and len(seen) == len(set(seen))


async def test_history_windows_and_pagination(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    stamps = [await fake.say("alice", "general", f"m{i}") for i in range(6)]
    full = await web_client.conversations_history(channel="C0GENERAL")
    assert [m["text"] for m in full["messages"]] == [f"m{i}" for i in reversed(range(6))]
    window = await web_client.conversations_history(channel="C0GENERAL", oldest=stamps[1], latest=stamps[4])
    assert [m["text"] for m in window["messages"]] == ["m3", "m2"]
    inclusive = await web_client.conversations_history(channel="C0GENERAL", oldest=stamps[1], latest=stamps[4],
                                                       inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m4", "m3", "m2", "m1"]
    first = await web_client.conversations_history(channel="C0GENERAL", limit=4)
    assert first["has_more"] and len(first["messages"]) == 4
    rest = await web_client.conversations_history(channel="C0GENERAL", limit=4,
                                                  cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["m1", "m0"] and not rest["has_more"]
    reply = await fake.say("bob", "general", "in thread", thread_ts=stamps[0])
    thread = await web_client.conversations_replies(channel="C0GENERAL", ts=stamps[0])
    assert [m["ts"] for m in thread["messages"]] == [stamps[0], reply]
    assert thread["messages"][0]["reply_count"] == 1
    err = await slack_error(web_client.conversations_history(channel="C0INCIDENTS"))
    assert err.response["error"] == "not_in_channel"


async def test_update_topic_pins_and_ephemeral_rules(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    mine = await web_client.chat_postMessage(channel="C0GENERAL", text="status")
    theirs = await fake.say("alice", "general", "hello")
    await web_client.chat_update(channel="C0GENERAL", ts=mine["ts"], text="status v2")
    assert fake.message("general", mine["ts"])["edited"]["user"] == fake.bot_user_id
    err = await slack_error(web_client.chat_update(channel="C0GENERAL", ts=theirs, text="x"))
    assert err.response["error"] == "cant_update_message"
    err = await slack_error(web_client.conversations_setTopic(channel="C0GENERAL", topic="t" * 251))
    assert err.response["error"] == "too_long"
    assert fake.violations  # the bot should have known the limit
    fake.violations.clear()
    await web_client.conversations_setTopic(channel="C0GENERAL", topic="SEV-1 checkout")
    await web_client.pins_add(channel="C0GENERAL", timestamp=mine["ts"])
    err = await slack_error(web_client.pins_add(channel="C0GENERAL", timestamp=mine["ts"]))
    assert err.response["error"] == "already_pinned"
    subtypes = [m.get("subtype") for m in fake.messages("general")]
    assert "channel_topic" in subtypes and "pinned_item" in subtypes
    assert fake.topic("general") == "SEV-1 checkout" and len(fake.pins("general")) == 1
    ch = fake.add_channel("quiet", members=["U0BOT"])
    err = await slack_error(web_client.chat_postEphemeral(channel=ch.id, user=fake.user("bob").id, text="psst"))
    assert err.response["error"] == "user_not_in_channel"
    await web_client.chat_postEphemeral(channel="C0GENERAL", user=fake.user("bob").id, text="psst")
    assert [e["text"] for e in fake.ephemerals(user="bob")] == ["psst"]
    assert all(m["text"] != "psst" for m in fake.messages("general"))


async def test_dm_by_user_id(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    posted = await web_client.chat_postMessage(channel=fake.user("carol").id, text="You are commander")
    assert posted["channel"].startswith("D")
    assert [m["text"] for m in fake.dms_to("carol")] == ["You are commander"]


# ---- views and trigger ids ---------------------------------------------------

MODAL = {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"},
         "submit": {"type": "plain_text", "text": "Declare"},
         "blocks": [{"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
                     "element": {"type": "plain_text_input", "action_id": "value"}},
                    {"type": "input", "block_id": "sev", "label": {"type": "plain_text", "text": "Severity"},
                     "element": {"type": "static_select", "action_id": "value", "options": [
                         {"text": {"type": "plain_text", "text": "SEV-1 Critical"}, "value": "SEV-1"},
                         {"text": {"type": "plain_text", "text": "SEV-2 Major"}, "value": "SEV-2"}]}}]}


async def test_views_open_trigger_rules(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    err = await slack_error(web_client.views_open(trigger_id="nope", view=MODAL))
    assert err.response["error"] == "invalid_trigger_id"
    trigger = fake.issue_trigger(fake.user("alice").id)
    opened = await web_client.views_open(trigger_id=trigger, view=MODAL)
    assert opened["view"]["id"].startswith("V") and opened["view"]["hash"]
    err = await slack_error(web_client.views_open(trigger_id=trigger, view=MODAL))
    assert err.response["error"] == "exchanged_trigger_id"
    old = fake.issue_trigger(fake.user("alice").id)
    fake.expire_trigger(old)
    err = await slack_error(web_client.views_open(trigger_id=old, view=MODAL))
    assert err.response["error"] == "expired_trigger_id"
    view_id = opened["view"]["id"]
    err = await slack_error(web_client.views_update(view_id=view_id, hash="stale", view=MODAL))
    assert err.response["error"] == "hash_conflict"
    await web_client.views_update(view_id=view_id, hash=opened["view"]["hash"], view=MODAL)
    fake.close_view(view_id)
    err = await slack_error(web_client.views_update(view_id=view_id, view=MODAL))
    assert err.response["error"] == "not_found"


async def test_submit_view_shapes_state_and_interprets_ack(fake: FakeSlack, web_client: AsyncWebClient,
                                                           receiver: Receiver, slack: SlackClient) -> None:
    await slack.command("alice", "/incident", "declare", channel="general")
    trigger = receiver.payloads()[-1]["trigger_id"]
    view_id = (await web_client.views_open(trigger_id=trigger, view=MODAL))["view"]["id"]
    assert slack.open_view("alice")["id"] == view_id  # type: ignore[index]
    receiver.answer = lambda body: web.json_response(
        {"response_action": "errors", "errors": {"title": "Too short", "nonsense": "x"}})
    await slack.submit_view("alice", view_id, {"Title": "DB", "Severity": "SEV-1"})
    values = receiver.payloads()[-1]["view"]["state"]["values"]
    assert values["title"]["value"] == {"type": "plain_text_input", "value": "DB"}
    assert values["sev"]["value"]["selected_option"]["value"] == "SEV-1"
    assert slack.view_errors(view_id) == {"title": "Too short"}
    assert any("nonsense" in v for v in fake.violations)
    fake.violations.clear()
    receiver.answer = lambda body: web.Response(status=200)
    await slack.submit_view("alice", view_id, {"Title": "Database down", "Severity": "SEV-2 Major"})
    assert fake.open_views("alice") == []
    err = await slack_error(web_client.views_update(view_id=view_id, view=MODAL))
    assert err.response["error"] == "not_found"
    with pytest.raises(AssertionError):
        await slack.submit_view("alice", view_id, {"Title": "again"})


# ---- signed commands and clicks ------------------------------------------------

async def test_command_ack_is_ephemeral_and_click_uses_response_url(
        fake: FakeSlack, web_client: AsyncWebClient, receiver: Receiver, slack: SlackClient) -> None:
    receiver.answer = lambda body: web.json_response({"text": "Usage: /incident declare"})
    resp = await slack.command("bob", "/incident", "help", channel="incidents")
    assert resp.status == 200 and resp.elapsed < 3
    form = receiver.payloads()[-1]
    assert form["command"] == "/incident" and form["channel_id"] == "C0INCIDENTS" and form["user_name"] == "bob"
    assert [e["text"] for e in fake.ephemerals(user="bob", channel="incidents")] == ["Usage: /incident declare"]
    blocks = [SECTION, {"type": "actions", "block_id": "roles", "elements": [
        {"type": "button", "action_id": "role.take", "value": "commander",
         "text": {"type": "plain_text", "text": "Take commander"}}]}]
    posted = await web_client.chat_postMessage(channel="C0GENERAL", text="Roles", blocks=blocks)
    receiver.answer = lambda body: web.Response(status=200)
    await slack.click("carol", "general", posted["ts"], "commander")
    payload = receiver.payloads()[-1]
    assert payload["type"] == "block_actions" and payload["actions"][0]["value"] == "commander"
    assert payload["container"]["message_ts"] == posted["ts"] and payload["message"]["ts"] == posted["ts"]
    async with fake_session() as http:
        async with http.post(payload["response_url"], json={"replace_original": True, "text": "Carol took it"}) as r:
            assert r.status == 200
    assert fake.message("general", posted["ts"])["text"] == "Carol took it"
    fake.assert_no_violations()


class fake_session:
    """An aiohttp session closed on exit (warnings are errors here)."""

    async def __aenter__(self) -> Any:
        import aiohttp
        self.session = aiohttp.ClientSession()
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.close()


async def test_signed_client_raw_posts(fake: FakeSlack, receiver: Receiver, slack: SlackClient) -> None:
    assert (await slack.post_raw(b"{}", sign=False)).status == 401
    assert (await slack.post_raw(b"{}", timestamp=int(time.time()) - 600)).status == 401
    assert (await slack.url_verification()).status == 200


# ---- failures, rate limits, validation ------------------------------------------

async def test_fail_next_429_then_ok(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    err = await slack_error(web_client.chat_postMessage(channel="C0GENERAL", text="x"))
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"
    assert fake.messages("general") == []  # nothing changed
    await web_client.chat_postMessage(channel="C0GENERAL", text="x")
    fake.fail_next("users.info", error="fatal_error")
    err = await slack_error(web_client.users_info(user="U0ALICE"))
    assert err.response.status_code == 200 and err.response["error"] == "fatal_error"


async def test_rate_limit_buckets(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    fake.rate_limits = True
    statuses = []
    for i in range(8):
        try:
            await web_client.chat_postMessage(channel="C0GENERAL", text=f"burst {i}")
            statuses.append(200)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
            assert int(err.response.headers["Retry-After"]) >= 1
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]


async def test_invalid_blocks_are_refused_and_recorded(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    long_button = {"type": "actions", "elements": [{"type": "button", "action_id": "a",
                                                    "text": {"type": "plain_text", "text": "x" * 76}}]}
    err = await slack_error(web_client.chat_postMessage(channel="C0GENERAL", text="t", blocks=[long_button]))
    assert err.response["error"] == "invalid_blocks"
    err = await slack_error(web_client.chat_postMessage(channel="C0GENERAL", text="t", blocks=[SECTION] * 51))
    assert err.response["error"] == "invalid_blocks"
    assert fake.messages("general") == []
    with pytest.warns(UserWarning):  # slack_sdk warns too; the fake records it as a violation
        await web_client.chat_postMessage(channel="C0GENERAL", blocks=[SECTION])
    assert len(fake.violations) >= 3 and any("text" in v for v in fake.violations)
    with pytest.raises(AssertionError):
        fake.assert_no_violations()
    fake.violations.clear()


async def test_unknown_method_and_auth(fake: FakeSlack) -> None:
    async with fake_session() as http:
        async with http.post(fake.api_url + "nope.nope", data={"token": "xoxb-test"}) as r:
            assert r.status == 404 and (await r.json())["error"] == "unknown_method"
        async with http.post(fake.api_url + "auth.test", data={"token": "wrong"}) as r:
            assert (await r.json())["error"] == "invalid_auth"
        async with http.post(fake.api_url + "auth.test") as r:
            assert (await r.json())["error"] == "not_authed"


# ---- files -------------------------------------------------------------------

async def test_files_upload_v2(fake: FakeSlack, web_client: AsyncWebClient) -> None:
    done = await web_client.files_upload_v2(channel="C0GENERAL", content="post-mortem body", filename="pm.md",
                                            title="Post-mortem", initial_comment="Draft attached")
    file_id = done["file"]["id"]
    assert fake.file_content(file_id) == b"post-mortem body"
    shared = fake.messages("general")[-1]
    assert shared["text"] == "Draft attached" and shared["files"][0]["id"] == file_id
    bare = await web_client.files_getUploadURLExternal(filename="x.txt", length=3)
    err = await slack_error(web_client.files_completeUploadExternal(files=[{"id": bare["file_id"], "title": "x"}],
                                                                    channel_id="C0GENERAL"))
    assert err.response["error"] == "file_upload_failed"


# ---- events ------------------------------------------------------------------

async def test_events_are_signed_and_retried(fake: FakeSlack, web_client: AsyncWebClient,
                                             receiver: Receiver) -> None:
    failures = {"left": 1}

    def answer(body: bytes) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        return web.Response(status=200)

    receiver.answer = answer
    ts = await fake.say("alice", "general", "the db is on fire")
    await fake.say("alice", "incidents", "bot not here: no event")
    await fake.events_delivered()
    (first_headers, first), (retry_headers, retried) = receiver.requests  # a 500, then Slack's retry
    assert first == retried and "X-Slack-Retry-Num" not in first_headers
    envelope = json.loads(first)
    assert envelope["event"]["text"] == "the db is on fire" and envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev")
    assert retry_headers["X-Slack-Retry-Num"] == "1" and retry_headers["X-Slack-Retry-Reason"] == "http_error"
    await web_client.reactions_add(channel="C0GENERAL", timestamp=ts, name="eyes")
    await fake.edit("alice", "general", ts, "the db is on fire (primary)")
    await fake.events_delivered()
    kinds = [(e["event"]["type"], e["event"].get("subtype")) for e in fake.delivered_events]
    assert ("reaction_added", None) in kinds and ("message", "message_changed") in kinds
    event_id = fake.delivered_events[0]["event_id"]
    assert await fake.redeliver(event_id) == 200
    assert json.loads(receiver.requests[-1][1])["event_id"] == event_id


async def test_bot_posts_arrive_as_bot_messages(fake: FakeSlack, web_client: AsyncWebClient,
                                                receiver: Receiver) -> None:
    await web_client.chat_postMessage(channel="C0GENERAL", text="from the bot")
    await fake.events_delivered()
    event = fake.delivered_events[-1]["event"]
    assert event["bot_id"] == fake.bot_id and event["bot_profile"]["id"] == fake.bot_id


def test_render_and_text_of() -> None:
    fake = FakeSlack()
    msg = {"user": "U0BOT", "bot_id": "B0BOT", "text": "fallback", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "INC-1"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Commander* <@U0ALICE>"}]},
        {"type": "actions", "elements": [{"type": "button", "action_id": "a",
                                          "text": {"type": "plain_text", "text": "Resolve"}}]}]}
    assert "INC-1" in fake.text_of(msg) and "[Resolve]" in fake.text_of(msg)
    assert "@alice" in fake.render_message(msg) and fake.render_message(msg).startswith("irbot (app)")


# ---- spec cross-check ----------------------------------------------------------

def test_methods_table_matches_spec() -> None:
    paths = json.loads(spec_file("slack_web_openapi_v2.json").read_text())["paths"]
    for name, spec in METHODS.items():
        if spec.newer_than_spec:
            assert spec.reference_url and spec.reference_url.startswith("https://docs.slack.dev/reference/methods/")
            assert "/" + name not in paths, f"{name} is in the spec after all"
            continue
        assert "/" + name in paths, f"{name} is not in Slack's spec"
        operation = next(iter(paths["/" + name].values()))
        required = {p["name"] for p in operation.get("parameters", []) if p.get("required")} - {"token"}
        assert required <= set(spec.required), f"{name}: spec requires {required - set(spec.required)}"
        assert spec.per_minute > 0


async def test_fail_next_drop_and_delay(fake: FakeSlack) -> None:
    import aiohttp
    fake.fail_next("auth.test", drop=True)
    async with fake_session() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.post(fake.api_url + "auth.test", data={"token": "xoxb-test"}) as r:
                await r.read()
        fake.fail_next("auth.test", delay=0.2)
        started = time.monotonic()
        async with http.post(fake.api_url + "auth.test", data={"token": "xoxb-test"}) as r:
            assert (await r.json())["ok"] is True
        assert time.monotonic() - started >= 0.2
        fake.fail_next("auth.test", status=503, times=2)
        for _ in range(2):
            async with http.post(fake.api_url + "auth.test", data={"token": "xoxb-test"}) as r:
                assert r.status == 503
        async with http.post(fake.api_url + "auth.test", data={"token": "xoxb-test"}) as r:
            assert r.status == 200


async def test_views_push_limit_and_view_clicks(fake: FakeSlack, web_client: AsyncWebClient,
                                                receiver: Receiver, slack: SlackClient) -> None:
    with_button = {**MODAL, "blocks": MODAL["blocks"] + [{"type": "actions", "block_id": "more", "elements": [
        {"type": "button", "action_id": "add", "text": {"type": "plain_text", "text": "Add step"}}]}]}
    root = (await web_client.views_open(trigger_id=fake.issue_trigger("U0ALICE"), view=with_button))["view"]
    for depth in (2, 3):
        await slack.click_in_view("alice", slack.open_view("alice")["id"], "Add step")  # type: ignore[index]
        click = receiver.payloads()[-1]
        assert click["container"] == {"type": "view", "view_id": click["view"]["id"]}
        pushed = await web_client.views_push(trigger_id=click["trigger_id"], view=with_button)
        assert pushed["view"]["root_view_id"] == root["id"] and len(fake.open_views("alice")) == depth
    await slack.click_in_view("alice", slack.open_view("alice")["id"], "Add step")  # type: ignore[index]
    err = await slack_error(web_client.views_push(trigger_id=receiver.payloads()[-1]["trigger_id"],
                                                  view=with_button))
    assert err.response["error"] == "push_limit_reached"
    receiver.answer = lambda body: web.json_response({"response_action": "clear"})
    await slack.submit_view("alice", slack.open_view("alice")["id"], {"Title": "x", "Severity": "SEV-1"})  # type: ignore[index]
    assert fake.open_views("alice") == []


async def test_select_user_in_message(fake: FakeSlack, web_client: AsyncWebClient, receiver: Receiver,
                                      slack: SlackClient) -> None:
    blocks = [{"type": "section", "block_id": "pick", "text": {"type": "mrkdwn", "text": "Commander?"},
               "accessory": {"type": "users_select", "action_id": "role.assign",
                             "placeholder": {"type": "plain_text", "text": "Pick a person"}}}]
    posted = await web_client.chat_postMessage(channel="C0GENERAL", text="Commander?", blocks=blocks)
    await slack.select_user("alice", "general", posted["ts"], "Pick a person", "dave")
    action = receiver.payloads()[-1]["actions"][0]
    assert action == {**action, "type": "users_select", "selected_user": "U0DAVE", "block_id": "pick"}
    fake.assert_no_violations()


async def test_slow_event_ack_is_retried_as_timeout(fake: FakeSlack, receiver: Receiver) -> None:
    fake.events.ack_deadline = 0.2
    receiver.delays = [0.4]  # the first delivery answers too late
    await fake.say("bob", "general", "slow")
    await fake.events_delivered()
    first, retry = fake.events.attempts[:2]
    assert first["status"] is None and retry["reason"] == "http_timeout" and retry["status"] == 200
