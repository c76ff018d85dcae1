"""FakeSlack: a local stand-in for Slack's Web API, Events API and response_urls.

It keeps a small workspace (people, channels, messages, views, files), answers
the Web API methods irbot calls the way Slack documents them (errors included),
checks Block Kit against Slack's limits, and delivers signed Events API
callbacks to the app. The pieces live in ``irbot.fakeslack.fake``.

    fake = FakeSlack(signing_secret="s", bot_token="xoxb-test")
    await fake.start()          # fake.api_url == "http://127.0.0.1:PORT/api/"
    ...
    await fake.stop()
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from aiohttp import web

from .fake import api_views
from .fake.limits import Fault, FaultPlan, RateLimiter
from .fake.model import Channel, Json, SlackError, User, ViewRecord
from .fake.render import humanize, render_message, text_of
from .fake.responses import issue_response_url
from .fake.server import build_app, reply
from .fake.socket import SocketMode
from .fake.workspace import Workspace

__all__ = ["FakeSlack", "User", "Channel", "SlackError"]

Call = tuple[str, Json, "Json | None", int]


class FakeSlack(Workspace):
    def __init__(self, signing_secret: str = "fake-signing-secret", bot_token: str = "xoxb-test",
                 team_id: str = "T0TEAM", strict: bool = True) -> None:
        super().__init__(team_id=team_id, bot_token=bot_token, signing_secret=signing_secret)
        self.strict = strict
        self.rate_limits = False  # off so fast tests are not throttled; tests may turn it on
        self.limiter = RateLimiter()
        self.faults = FaultPlan()
        self.latency = 0.0  # seconds every Web API call waits before it is answered (benches set it)
        self.calls: list[Call] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.socket = SocketMode(self)  # Socket Mode: off until socket.enabled (the app setting) is set
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -----------------------------------------------------
    async def start(self) -> FakeSlack:
        self._runner = web.AppRunner(build_app(self), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        await self.events.close()
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    # ---- Web API bookkeeping -------------------------------------------
    def record(self, method: str, args: Json, body: Json, status: int,
               headers: dict[str, str] | None = None) -> web.Response:
        self.calls.append((method, args, body, status))
        return reply(body, status, headers)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c[0] == method]

    def fail_next(self, method: str, *, status: int | None = None, retry_after: int = 1,
                  error: str | None = None, times: int = 1, drop: bool = False, delay: float = 0.0,
                  answer_lost: bool = False) -> None:
        """Script the next `times` calls of `method` to fail; a failed call changes nothing.

        status 429 (the default when nothing else is given) answers ratelimited with
        Retry-After; 500/503 answer that status; error= answers HTTP 200 ok:false;
        drop=True closes the connection; delay alone answers normally, late. answer_lost=True is
        the exception to "changes nothing": the call takes effect, then the connection drops
        before the answer (the caller cannot tell it from drop=True).
        """
        if status is None and error is None and not drop and not delay and not answer_lost:
            status = 429
        self.faults.add(method, Fault(status, retry_after, error, times, drop, delay, answer_lost))

    def hold_next(self, method: str) -> asyncio.Event:
        """The next call of ``method`` waits, unanswered, until the returned event is set (then runs
        as usual): a slow Slack, without a timer."""
        gate = self.gates[method] = asyncio.Event()
        return gate

    def assert_no_violations(self) -> None:
        """Fail the test if the bot broke a Slack rule (only in strict mode)."""
        if self.strict and self.violations:
            listing = "\n  ".join(self.violations)
            raise AssertionError(f"the bot broke Slack's rules {len(self.violations)} time(s):\n  {listing}")

    # ---- events --------------------------------------------------------
    @property
    def delivered_events(self) -> list[Json]:
        return self.events.delivered

    async def events_delivered(self, timeout: float = 15.0) -> None:
        await asyncio.wait_for(self.events.drain(), timeout)

    async def redeliver(self, event_id: str, reason: str = "http_timeout") -> int | None:
        return await self.events.redeliver(event_id, reason)

    # ---- Socket Mode (fake/socket.py) -------------------------------------
    @property
    def socket_app_token(self) -> str:
        """The app-level token (xapp-) the app opens Socket Mode connections with."""
        return self.socket.app_token

    @property
    def socket_connected(self) -> bool:
        return self.socket.connected

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        await self.socket.send_disconnect(reason)

    async def drop_socket(self) -> None:
        await self.socket.drop()

    # ---- interactions (used by the signed client) ------------------------
    def issue_response_url(self, user: str, channel: str, *, message_ts: str | None = None,
                           is_ephemeral: bool = False) -> str:
        return issue_response_url(self, user, channel, message_ts=message_ts, is_ephemeral=is_ephemeral)

    def view(self, view_id: str) -> ViewRecord:
        """A modal, or a person's Home tab (people click in both)."""
        if view_id in self.views:
            return self.views[view_id]
        return next(rec for rec in self.home_views.values() if rec.id == view_id)

    def view_payload(self, view_id: str) -> Json:
        """The view as Slack includes it in payloads (id, hash, state, metadata...)."""
        return api_views.view_out(self, self.view(view_id))

    def view_out_of(self, rec: ViewRecord) -> Json:
        return api_views.view_out(self, rec)

    def home_view(self, user: str | User) -> Json | None:
        """The person's Home tab as last published (None before any)."""
        rec = self.home_views.get(self.user_id(user))
        return self.view_out_of(rec) if rec else None

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        rec = self.views[view_id]
        targets = api_views.stack(self, rec) if clear else [rec]
        for v in targets:
            v.open = False

    def replace_view(self, view_id: str, view: Json) -> bool:
        """Swap a view's content (response_action update); False if Slack would refuse it."""
        if self._view_problems("response_action=update", view):
            return False
        api_views.replace_view(self, self.views[view_id], view)
        return True

    def push_view(self, view_id: str, view: Json) -> str | None:
        rec = self.views[view_id]
        if self._view_problems("response_action=push", view):
            return None
        if len(api_views.stack(self, rec)) >= api_views.MAX_STACK:
            self.violation(f"response_action=push: more than {api_views.MAX_STACK} views stacked")
            return None
        return api_views.create_view(self, rec.user, view, previous=api_views.stack(self, rec)[-1]).id

    def _view_problems(self, where: str, view: Json) -> bool:
        try:
            api_views.check_view_content(self, where, view)
        except SlackError:
            return True
        return False

    # ---- people API (what a human does; no token) --------------------------
    def _person(self, user: str | User) -> str:
        uid = self.user_id(user)
        if self.users[uid].deleted:
            raise ValueError(f"{user} is deactivated and cannot act")
        return uid

    def _chan(self, channel: str) -> Channel:
        ch = self.find_channel(channel)
        if ch is None:
            raise KeyError(f"no such channel {channel!r}")
        return ch

    async def say(self, user: str | User, channel: str, text: str, thread_ts: str | None = None,
                  files: list[Json] | None = None) -> str:
        uid, ch = self._person(user), self._chan(channel)
        if uid not in ch.members:
            raise ValueError(f"{user} is not in #{ch.name}")
        fields: Json = {"user": uid, "text": text, "client_msg_id": f"fake-{self.new_id('m')}",
                        "blocks": [{"type": "rich_text", "block_id": self.new_id("b"), "elements": [
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]}
        if files:
            fields.update(subtype="file_share", files=files, upload=True)
        msg = self.add_message(ch, fields, thread_ts=thread_ts)
        await asyncio.sleep(0)  # let the delivery task start, as Slack would push it now
        return msg["ts"]

    async def edit(self, user: str | User, channel: str, ts: str, new_text: str) -> None:
        uid, ch = self._person(user), self._chan(channel)
        if ch.messages.get(ts, {}).get("user") != uid:
            raise ValueError("people can only edit their own messages")
        self.edit_message(ch, ts, {"text": new_text, "blocks": [{"type": "rich_text", "block_id": self.new_id("b"),
                          "elements": [{"type": "rich_text_section",
                                        "elements": [{"type": "text", "text": new_text}]}]}]}, uid)
        await asyncio.sleep(0)

    async def delete(self, channel: str, ts: str) -> None:
        self.remove_message(self._chan(channel), ts)
        await asyncio.sleep(0)

    async def react(self, user: str | User, channel: str, ts: str, name: str) -> None:
        self.add_reaction(self._chan(channel), ts, name.strip(":"), self._person(user))
        await asyncio.sleep(0)

    async def pin(self, user: str | User, channel: str, ts: str) -> None:
        self.add_pin(self._chan(channel), ts, self._person(user))
        await asyncio.sleep(0)

    async def join(self, user: str | User, channel: str) -> None:
        uid, ch = self._person(user), self._chan(channel)
        if uid not in ch.members:
            self.add_member(ch, uid)
        await asyncio.sleep(0)

    async def leave(self, user: str | User, channel: str) -> None:
        uid, ch = self._person(user), self._chan(channel)
        if uid in ch.members:
            self.remove_member(ch, uid)
        await asyncio.sleep(0)

    async def invite(self, inviter: str | User, channel: str, user: str | User) -> None:
        uid, ch = self._person(user), self._chan(channel)
        if uid not in ch.members:
            self.add_member(ch, uid, inviter=self._person(inviter))
        await asyncio.sleep(0)

    # ---- queries (what people see) -----------------------------------------
    def user(self, name_or_id: str) -> User:
        return self.users[self.user_id(name_or_id)]

    def channel(self, name_or_id: str) -> Channel:
        return self._chan(name_or_id)

    def channel_by_name(self, name: str) -> Channel | None:
        return self.find_channel(name.lstrip("#"))

    def messages(self, channel: str, include_threads: bool = True) -> list[Json]:
        msgs = self._chan(channel).messages.values()
        return [copy.deepcopy(m) for m in msgs
                if include_threads or m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"]

    def message(self, channel: str, ts: str) -> Json:
        return copy.deepcopy(self._chan(channel).messages[ts])

    def thread(self, channel: str, ts: str) -> list[Json]:
        return [m for m in self.messages(channel) if m["ts"] == ts or m.get("thread_ts") == ts]

    def pins(self, channel: str) -> list[Json]:
        return copy.deepcopy(self._chan(channel).pins)

    def topic(self, channel: str) -> str:
        return self._chan(channel).topic["value"]

    def bookmarks(self, channel: str) -> list[Json]:
        return copy.deepcopy(self._chan(channel).bookmarks)

    def ephemerals(self, user: str | User | None = None, channel: str | None = None) -> list[Json]:
        uid = self.user_id(user) if user is not None else None
        cid = self._chan(channel).id if channel is not None else None
        return [copy.deepcopy(e) for e in self.ephemeral_store
                if (uid is None or e["user"] == uid) and (cid is None or e["channel"] == cid)]

    def dms_to(self, user: str | User) -> list[Json]:
        """What the bot sent the person in their DM with the bot."""
        uid = self.user_id(user)
        ch = next((c for c in self.channels.values() if c.is_im and c.im_user == uid), None)
        return [copy.deepcopy(m) for m in ch.messages.values() if m.get("bot_id")] if ch else []

    def open_views(self, user: str | User | None = None) -> list[Json]:
        uid = self.user_id(user) if user is not None else None
        return [self.view_payload(v.id) for v in self.views.values() if v.open and (uid is None or v.user == uid)]

    def file_content(self, file_id: str) -> bytes | None:
        return self.files[file_id].content

    def text_of(self, message: Json) -> str:
        return text_of(message)

    def name_of(self, ref: str) -> str:
        if ref in self.users:
            return self.users[ref].name
        return self.channels[ref].name if ref in self.channels else ref

    def readable(self, message: Json) -> str:
        """text_of with mentions turned into @names and #channels."""
        return humanize(text_of(message), self.name_of)

    def render_message(self, message: Json) -> str:
        return render_message(message, self.name_of)
