"""The HTTP side: /api/<method>, /upload/<file_id>, /response/<id>, and the Socket Mode WebSocket."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..slack_methods import METHODS, missing_arg_error
from . import api_chat, api_conversations, api_misc, api_views, socket  # noqa: F401  (register handlers)
from .apiutil import HANDLERS
from .model import Json, SlackError
from .responses import handle_response_url

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata")
JSON_CT = "application/json; charset=utf-8"
APP_TOKEN_METHODS = ("apps.connections.open",)


def build_app(fake: FakeSlack) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/api/{method}", functools.partial(api, fake))
    app.router.add_post("/upload/{file_id}", functools.partial(upload, fake))
    app.router.add_post("/response/{rid}", functools.partial(response_url, fake))
    app.router.add_get("/socket/{ticket}", fake.socket.serve)
    return app


async def read_args(request: web.Request) -> tuple[Json, str | None]:
    """Query string + form or JSON body, JSON-string fields decoded; returns (args, token)."""
    args: Json = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str) and args[key].strip()[:1] in ("[", "{"):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                pass  # left as a string; validation will complain
    token = args.pop("token", None)
    auth = request.headers.get("Authorization", "")
    if not token and auth.startswith("Bearer "):
        token = auth.removeprefix("Bearer ").strip()
    return args, token


def reply(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        charset="utf-8", headers=headers)


async def api(fake: FakeSlack, request: web.Request) -> web.StreamResponse:
    method = request.match_info["method"]
    args, token = await read_args(request)
    if fake.latency:
        await asyncio.sleep(fake.latency)  # Slack's round trip, for benches; the call then runs as usual
    if method not in METHODS or method not in HANDLERS:
        return fake.record(method, args, {"ok": False, "error": "unknown_method"}, 404)
    if not token:
        return fake.record(method, args, {"ok": False, "error": "not_authed"}, 200)
    # apps.connections.open takes the app-level token (xapp-), every other method the bot token.
    expected = fake.socket.app_token if method in APP_TOKEN_METHODS else fake.bot_token
    if token != expected:
        wrong_type = token in (fake.bot_token, fake.socket.app_token)
        return fake.record(method, args, {"ok": False, "error": "not_allowed_token_type" if wrong_type
                                          else "invalid_auth"}, 200)
    gate = fake.gates.pop(method, None)
    if gate is not None:
        await gate.wait()
    fault = fake.faults.take(method)
    if fault is not None:
        early = await _apply_fault(fake, request, method, args, fault)
        if early is not None:
            return early
    if fake.rate_limits:
        wait = fake.limiter.check(method, str(args.get("channel") or "") or None)
        if wait is not None:
            return fake.record(method, args, {"ok": False, "error": "ratelimited"}, 429,
                               {"Retry-After": str(wait)})
    return fake.record(method, args, _call(fake, method, args), 200)


def _call(fake: FakeSlack, method: str, args: Json) -> Json:
    for arg in METHODS[method].required:
        if args.get(arg) in (None, ""):
            return {"ok": False, "error": missing_arg_error(method, arg)}
    try:
        return {"ok": True, **HANDLERS[method](fake, args)}
    except SlackError as err:
        return {"ok": False, "error": err.code, **err.extra}


async def _apply_fault(fake: FakeSlack, request: web.Request, method: str, args: Json,
                       fault: Any) -> web.StreamResponse | None:
    """A scripted failure; returns the response to send, or None to answer normally."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.answer_lost:  # Slack did the work; the answer never reached the caller
        fake.record(method, args, _call(fake, method, args), 200)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError()
    if fault.drop:
        fake.calls.append((method, args, None, 0))
        if request.transport is not None:
            request.transport.close()  # the client sees the connection drop, no response
        raise asyncio.CancelledError()
    if fault.error:
        return fake.record(method, args, {"ok": False, "error": fault.error}, 200)
    if fault.status:
        if fault.status == 429:
            return fake.record(method, args, {"ok": False, "error": "ratelimited"}, 429,
                               {"Retry-After": str(int(fault.retry_after))})
        return fake.record(method, args, {"ok": False, "error": "fatal_error"}, fault.status)
    return None


async def upload(fake: FakeSlack, request: web.Request) -> web.Response:
    f = fake.files.get(request.match_info["file_id"])
    if f is None:
        return web.Response(status=404, text="file_not_found")
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        data = await part.read() if part is not None else b""  # type: ignore[union-attr]
    else:
        data = await request.read()
    f.content = bytes(data)
    return web.Response(text=f"OK - {len(f.content)}")


async def response_url(fake: FakeSlack, request: web.Request) -> web.Response:
    entry = fake.response_urls.get(request.match_info["rid"])
    if entry is None:
        return web.Response(status=404, text="no_such_url")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        fake.violation(f"response_url {entry['id']}: body is not JSON")
        return web.Response(status=400, text="invalid_payload")
    status, text = handle_response_url(fake, entry, body, time.monotonic())
    return reply({"ok": status == 200, **({} if status == 200 else {"error": text})}, status)
