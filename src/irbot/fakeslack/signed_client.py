"""SlackClient: sends the bot what Slack sends it, signed with the signing secret.

Slash commands, button clicks, selects, view submissions and Events API
callbacks are built in Slack's shapes from the fake's state (the message or
view the person is looking at), and the bot's HTTP answers are interpreted as
Slack would: a slash command's ack body is shown to the person as an
ephemeral, a view_submission's empty ack closes the modal, and so on.

For a Socket Mode app (``fake.socket.enabled``, or ``mode="socket"``) the same
request travels as an envelope over the app's WebSocket instead, and the ack's
payload is returned as a ``Response(200, <payload JSON or "">)``, so callers
read answers the same way in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlencode

import aiohttp

from .fake import validation
from .fake.events import signed_headers
from .fake.interactions import (ElementMatch, block_actions_payload, find_element, message_action_payload,
                                shortcut_payload, view_submission_state)
from .fake.model import Json, User
from .fake_slack import FakeSlack

FORM = "application/x-www-form-urlencoded"
ACK_DEADLINE = 3.0


@dataclass
class Response:
    status: int
    body: str
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any | None:
        try:
            return json.loads(self.body) if self.body.strip() else None
        except json.JSONDecodeError:
            return None


class NotOverSocketMode(ValueError):
    """A request that only exists over HTTP (unsigned, stale, forged, not a JSON object)."""


class SlackClient:
    def __init__(self, fake: FakeSlack, app_url: str | None = None, signing_secret: str | None = None,
                 mode: str | None = None) -> None:
        self.fake = fake
        self.app_url = app_url or fake.app_url
        self.signing_secret = signing_secret or fake.signing_secret
        self.mode = mode  # "http" or "socket"; None: as the app is set up (fake.socket.enabled)

    @property
    def socket_mode(self) -> bool:
        return self.mode == "socket" if self.mode else self.fake.socket.enabled

    async def close(self) -> None:
        """Nothing to release: each request uses its own short-lived session (no leaks if unclosed)."""

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---- raw transport --------------------------------------------------
    @contextlib.asynccontextmanager
    async def duplicated(self, copies: int = 2) -> AsyncIterator[None]:
        """Inside, every request is sent ``copies`` times at once (a double click, a replay)."""
        self._copies = copies
        try:
            yield
        finally:
            self._copies = 1

    async def post_raw(self, body: bytes, headers: dict[str, str] | None = None, sign: bool = True,
                       timestamp: int | None = None, content_type: str = "application/json") -> Response:
        """POST bytes to the app; sign=False or an old timestamp test the bot's verification."""
        copies = getattr(self, "_copies", 1)
        if copies > 1:
            self._copies = 1
            try:
                responses = await asyncio.gather(*(self.post_raw(body, headers, sign, timestamp, content_type)
                                                   for _ in range(copies)))
            finally:
                self._copies = copies
            return responses[0]
        if self.socket_mode:
            return await self._send_envelope(body, headers or {}, sign, timestamp, content_type)
        hdrs = signed_headers(self.signing_secret, body, content_type, timestamp)
        if not sign:
            hdrs.pop("X-Slack-Signature")
        hdrs.update(headers or {})
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            # aiohttp wants big bodies as a stream (it warns otherwise); the bytes sent are the same.
            data = io.BytesIO(body) if len(body) > 512 * 1024 else body
            async with session.post(self._url(), data=data, headers=hdrs) as resp:
                text = await resp.text()
                return Response(resp.status, text, time.monotonic() - started, dict(resp.headers))

    async def _send_envelope(self, body: bytes, headers: dict[str, str], sign: bool, timestamp: int | None,
                             content_type: str) -> Response:
        """Socket Mode: the request as an envelope; the ack (3 s limit) as the answer."""
        if not sign or timestamp is not None or any(k.lower() == "x-slack-signature" for k in headers):
            raise NotOverSocketMode("Socket Mode requests are not signed: signature tests are HTTP-only")
        kind, payload = envelope_of(body, content_type)
        lowered = {k.lower(): v for k, v in headers.items()}
        retry = int(lowered.get("x-slack-retry-num") or 0)
        started = time.monotonic()
        ack = await self.fake.socket.deliver(kind, payload, retry_attempt=retry,
                                             retry_reason=lowered.get("x-slack-retry-reason", "") if retry else "",
                                             timeout=ACK_DEADLINE)
        if ack is None:  # Slack gives up; the person sees an error (checked by _check_ack_time)
            return Response(504, "", time.monotonic() - started)
        text = json.dumps(ack.payload) if ack.payload is not None else ""
        return Response(200, text, ack.elapsed, {"Content-Type": "application/json"} if text else {})

    def _url(self) -> str:
        url = self.app_url or self.fake.app_url
        if not url:
            raise RuntimeError("SlackClient needs app_url (or fake.app_url) to know where the bot listens")
        return url

    async def _post_payload(self, payload: Json) -> Response:
        return await self.post_raw(urlencode({"payload": json.dumps(payload)}).encode(), content_type=FORM)

    def _user(self, user: str | User) -> User:
        return self.fake.user(user.id if isinstance(user, User) else user)

    def _check_ack_time(self, what: str, resp: Response) -> bool:
        if resp.elapsed > ACK_DEADLINE:
            self.fake.violation(f"{what}: ack took {resp.elapsed:.2f}s (Slack gives up after 3s)")
            return False
        return True

    # ---- slash commands ---------------------------------------------------
    async def command(self, user: str | User, command: str, text: str = "", channel: str = "general") -> Response:
        person, ch = self._user(user), self.fake.channel(channel)
        fields = {
            "token": self.fake.verification_token, "team_id": self.fake.team_id,
            "team_domain": self.fake.team_domain, "channel_id": ch.id,
            "channel_name": "directmessage" if ch.is_im else ch.name, "user_id": person.id,
            "user_name": person.name, "command": command, "text": text, "api_app_id": self.fake.app_id,
            "is_enterprise_install": "false",
            "response_url": self.fake.issue_response_url(person.id, ch.id),
            "trigger_id": self.fake.issue_trigger(person.id),
        }
        resp = await self.post_raw(urlencode(fields).encode(), content_type=FORM)
        if self._check_ack_time(f"{command} {text}", resp) and resp.status == 200:
            self._show_ack(person.id, ch.id, resp)
        return resp

    def _show_ack(self, user: str, channel: str, resp: Response) -> None:
        """A slash command's ack body is what the person sees (ephemeral unless in_channel)."""
        if not resp.body.strip():
            return
        body = resp.json if isinstance(resp.json, dict) else {"text": resp.body}
        text, blocks = body.get("text") or "", body.get("blocks")
        problems = validation.check_message_blocks(blocks) + validation.check_text(text, bool(blocks))
        for p in problems:
            self.fake.violation(f"slash command ack: {p}")
        ch = self.fake.channels[channel]
        if body.get("response_type") == "in_channel":
            self.fake.add_message(ch, {**self.fake.bot_fields(), "text": text, **({"blocks": blocks} if blocks else {})})
        else:
            self.fake.add_ephemeral(ch, user, text, blocks, "ack")

    # ---- message interactions -----------------------------------------------
    def _find_message(self, channel: str, message_ts: str) -> tuple[Json, bool]:
        ch = self.fake.channel(channel)
        if message_ts in ch.messages:
            return self.fake.message(ch.id, message_ts), False
        for e in self.fake.ephemeral_store:
            if e["ts"] == message_ts and e["channel"] == ch.id:
                return dict(e), True
        raise AssertionError(f"no message {message_ts} in #{ch.name} (nor an ephemeral there)")

    async def _interact(self, user: str | User, channel: str, message_ts: str, match: ElementMatch,
                        action_extra: Json) -> Response:
        person = self._user(user)
        message, ephemeral = self._find_message(channel, message_ts)
        block, element = find_element(message.get("blocks") or [], match)
        ch = self.fake.channel(channel)
        payload = block_actions_payload(self.fake, person, block, element, action_extra)
        payload.update({
            "container": {"type": "message", "message_ts": message_ts, "channel_id": ch.id,
                          "is_ephemeral": ephemeral, **({"thread_ts": message["thread_ts"]}
                                                        if message.get("thread_ts") else {})},
            "channel": {"id": ch.id, "name": ch.name or "directmessage"},
            "response_url": self.fake.issue_response_url(person.id, ch.id, message_ts=message_ts,
                                                         is_ephemeral=ephemeral),
            "trigger_id": self.fake.issue_trigger(person.id),
        })
        if not ephemeral:  # Slack leaves the message out for ephemeral containers
            payload["message"] = {k: v for k, v in message.items() if k not in ("source", "is_ephemeral")}
        resp = await self._post_payload(payload)
        self._check_ack_time(f"block_actions {element.get('action_id')}", resp)
        return resp

    async def click(self, user: str | User, channel: str, message_ts: str, label: str | None = None, *,
                    action_id: str | None = None) -> Response:
        return await self._interact(user, channel, message_ts, ElementMatch(("button",), label, action_id), {})

    async def select_user(self, user: str | User, channel: str, message_ts: str, action_id_or_placeholder: str,
                          selected_user: str | User) -> Response:
        match = ElementMatch(("users_select",), action_id_or_placeholder, action_id_or_placeholder)
        return await self._interact(user, channel, message_ts, match,
                                    {"selected_user": self._user(selected_user).id})

    async def select_option(self, user: str | User, channel: str, message_ts: str, action_id: str,
                            value: str) -> Response:
        match = ElementMatch(("static_select", "overflow", "radio_buttons"), None, action_id)
        message, _ = self._find_message(channel, message_ts)
        _, element = find_element(message.get("blocks") or [], match)
        return await self._interact(user, channel, message_ts, match,
                                    {"selected_option": _option(element, value)})

    # ---- views --------------------------------------------------------------
    def open_view(self, user: str | User) -> Json | None:
        """The view the person is looking at now (the top of their latest stack)."""
        views = self.fake.open_views(self._user(user).id)
        return views[-1] if views else None

    def view_errors(self, view_id: str) -> dict[str, str]:
        return dict(self.fake.view(view_id).errors)

    async def click_in_view(self, user: str | User, view_id: str, label: str | None = None, *,
                            action_id: str | None = None) -> Response:
        person, rec = self._user(user), self.fake.view(view_id)
        if not rec.open:
            raise AssertionError(f"view {view_id} is closed; nobody can click in it")
        block, element = find_element(rec.view.get("blocks") or [], ElementMatch(("button",), label, action_id))
        payload = block_actions_payload(self.fake, person, block, element, {})
        payload.update({"container": {"type": "view", "view_id": view_id},
                        "view": self.fake.view_payload(view_id),
                        "trigger_id": self.fake.issue_trigger(person.id, view_id=view_id)})
        return await self._post_payload(payload)

    async def submit_view(self, user: str | User, view_id: str, values: dict[str, Any] | None = None) -> Response:
        person, rec = self._user(user), self.fake.view(view_id)
        if not rec.open:
            raise AssertionError(f"view {view_id} is closed; Slack would not let anyone submit it")
        rec.state_values = view_submission_state(self.fake, rec.view, values or {})
        payload = {
            "type": "view_submission", "team": {"id": self.fake.team_id, "domain": self.fake.team_domain},
            "user": _user_obj(self.fake, person), "api_app_id": self.fake.app_id,
            "token": self.fake.verification_token, "trigger_id": self.fake.issue_trigger(person.id, view_id=view_id),
            "view": self.fake.view_payload(view_id), "response_urls": [], "is_enterprise_install": False,
            "enterprise": None,
        }
        resp = await self._post_payload(payload)
        if self._check_ack_time(f"view_submission {rec.view.get('callback_id')}", resp) and resp.status == 200:
            self._apply_view_answer(view_id, resp)
        return resp

    def _apply_view_answer(self, view_id: str, resp: Response) -> None:
        body = resp.json if isinstance(resp.json, dict) else {}
        action = body.get("response_action")
        rec = self.fake.view(view_id)
        if action is None:
            self.fake.close_view(view_id)
        elif action == "errors":
            errors = body.get("errors") or {}
            inputs = validation.input_block_ids(rec.view)
            for key in errors:
                if key not in inputs:
                    self.fake.violation(f"response_action errors: {key!r} is not an input block_id "
                                        f"(inputs: {sorted(inputs)})")
            rec.errors = {k: v for k, v in errors.items() if k in inputs}
        elif action == "update":
            self.fake.replace_view(view_id, body.get("view") or {})
        elif action == "push":
            self.fake.push_view(view_id, body.get("view") or {})
        elif action == "clear":
            self.fake.close_view(view_id, clear=True)
        else:
            self.fake.violation(f"unknown response_action {action!r}")

    async def close_view(self, user: str | User, view_id: str) -> Response | None:
        """The person presses Cancel: Slack tells the app only when notify_on_close is set."""
        person, rec = self._user(user), self.fake.view(view_id)
        self.fake.close_view(view_id)
        if not rec.view.get("notify_on_close"):
            return None
        payload = {"type": "view_closed", "team": {"id": self.fake.team_id, "domain": self.fake.team_domain},
                   "user": _user_obj(self.fake, person), "api_app_id": self.fake.app_id,
                   "token": self.fake.verification_token, "view": self.fake.view_payload(view_id),
                   "is_cleared": False, "is_enterprise_install": False}
        return await self._post_payload(payload)

    # ---- shortcuts and the Home tab -------------------------------------------------
    async def global_shortcut(self, user: str | User, callback_id: str) -> Response:
        """The person picks the app's global shortcut (from search or the composer)."""
        resp = await self._post_payload(shortcut_payload(self.fake, self._user(user), callback_id))
        self._check_ack_time(f"shortcut {callback_id}", resp)
        return resp

    async def message_shortcut(self, user: str | User, channel: str, message_ts: str, callback_id: str) -> Response:
        """The person picks the app's shortcut from a message's menu. Slack offers it on any message
        the person can see, in channels the app is not in too; the payload carries the message."""
        person, ch = self._user(user), self.fake.channel(channel)
        if person.id not in ch.members:
            raise AssertionError(f"{person.name} cannot see messages in #{ch.name}")
        message = {k: v for k, v in self.fake.message(ch.id, message_ts).items() if k not in ("source", "is_ephemeral")}
        payload = message_action_payload(self.fake, person, {"id": ch.id, "name": ch.name or "directmessage"},
                                         message, callback_id)
        resp = await self._post_payload(payload)
        self._check_ack_time(f"message_action {callback_id}", resp)
        return resp

    async def open_home(self, user: str | User) -> None:
        """The person opens the app's Home tab: Slack sends ``app_home_opened`` (with the view last
        published for them, if any). Delivered like every event; wait with ``fake.events_delivered``."""
        person = self._user(user)
        event: Json = {"type": "app_home_opened", "user": person.id, "channel": self.fake.dm_channel(person.id).id,
                       "tab": "home", "event_ts": self.fake.next_ts()}
        if person.id in self.fake.home_views:
            event["view"] = self.fake.view_out_of(self.fake.home_views[person.id])
        self.fake.events.emit(event)

    # ---- Events API -----------------------------------------------------------
    async def event(self, event: Json, *, event_id: str | None = None, retry_num: int | None = None,
                    retry_reason: str = "http_timeout") -> Response:
        envelope = self.fake.events.envelope(event)
        if event_id:
            envelope["event_id"] = event_id
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.post_raw(json.dumps(envelope).encode(), headers=headers)

    async def url_verification(self, challenge: str = "fake-challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> Response:
        if self.socket_mode:
            raise NotOverSocketMode("Slack verifies a Request URL only in HTTP mode")
        body = {"token": self.fake.verification_token, "challenge": challenge, "type": "url_verification"}
        return await self.post_raw(json.dumps(body).encode())


def envelope_of(body: bytes, content_type: str) -> tuple[str, Json]:
    """The Socket Mode envelope type and payload Slack uses for what would be this HTTP request."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            kind, data = "events_api", json.loads(text)
        else:
            form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
            kind, data = ("interactive", json.loads(form["payload"])) if "payload" in form else ("slash_commands", form)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise NotOverSocketMode(f"Slack sends only JSON objects over Socket Mode: {exc}") from None
    if not isinstance(data, dict):
        raise NotOverSocketMode("Slack sends only JSON objects over Socket Mode")
    return kind, data


def _user_obj(fake: FakeSlack, person: User) -> Json:
    return {"id": person.id, "username": person.name, "name": person.name, "team_id": fake.team_id}


def _option(element: Json, value: str) -> Json:
    for opt in list(element.get("options") or []) + [o for g in element.get("option_groups") or []
                                                        for o in g.get("options") or []]:
        if opt.get("value") == value or (opt.get("text") or {}).get("text") == value:
            return opt
    raise AssertionError(f"no option {value!r} in {element.get('action_id')}")
