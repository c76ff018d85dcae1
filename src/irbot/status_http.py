"""The status page's HTTP routes: ``/status``, ``/status/incidents/<INC-n>``, ``/status/feed.atom``,
``/status/summary.json`` (GET and HEAD; 404 when there is no ``[status_page]`` section).

Each answer is rendered once per publication version and kept in memory (``deps.status_cache``):
a burst of readers costs one database read of the version per second, not a page render each.
Every answer carries an ``ETag`` (a hash of the body) and ``Cache-Control``; a conditional GET
whose ``If-None-Match`` names the current ETag gets 304 with no body.
"""

from __future__ import annotations

import gzip
import logging
import re
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from irbot.domain.incident import REF_PREFIX
from irbot.services import status_page
from irbot.store.status_page import Rendered
from irbot.views.status_page import (
    ATOM_TYPE, HTML_TYPE, JSON_TYPE, StatusPageViews, atom_feed, etag_of, summary_json,
)

if TYPE_CHECKING:
    from irbot.app import Irbot

log = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=15"
FEED_ENTRIES = 100
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
_REF = re.compile(rf"^{REF_PREFIX}([1-9][0-9]{{0,9}})$")
# No script, no frames, no outside fetches: the page is text and its own inline style.
_SECURITY = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def status_routes(irbot: "Irbot") -> list[web.RouteDef]:
    views = StatusPageViews(irbot.settings.templates_dir)
    deps = irbot.deps

    def base_of(request: web.Request, *, absolute: bool) -> str:
        configured = irbot.settings.status_page.public_url if irbot.settings.status_page else ""
        if configured or not absolute:
            return configured
        # Without public_url the feed's absolute links name the host asked for, if it looks like one.
        host = request.host if _HOST.match(request.host or "") else "localhost"
        return f"{request.scheme}://{host}"

    def rendered(body: bytes, content_type: str, version: int, state: status_page.PageState | None) -> Rendered:
        return Rendered(body=body, content_type=content_type, etag=etag_of(body), version=version,
                        valid_until=state.valid_until if state else None, gzipped=gzip.compress(body, 6, mtime=0))

    def serve(build: Callable[[web.Request], Awaitable[Rendered | None]]):  # noqa: ANN202
        async def handle(request: web.Request) -> web.StreamResponse:
            if irbot.settings.status_page is None:
                raise web.HTTPNotFound()
            try:
                answer = await build(request)
            except (DBAPIError, PoolTimeout, OSError):
                log.warning("the status page could not be read from the database", exc_info=True)
                return web.Response(status=503, text="The status page is unavailable for a moment.\n",
                                    headers={"Retry-After": "5", "Cache-Control": "no-store"})
            if answer is None:
                return web.Response(status=404, text="Not found.\n", headers={"Cache-Control": CACHE_CONTROL})
            # Each encoding is its own representation with its own strong ETag (RFC 9110 8.8.3).
            zipped = answer.gzipped is not None and _accepts_gzip(request.headers.get("Accept-Encoding", ""))
            etag = answer.etag[:-1] + '-gzip"' if zipped else answer.etag
            headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding", **_SECURITY}
            if _matches(request.headers.get("If-None-Match"), etag):
                return web.Response(status=304, headers=headers)
            headers["Content-Type"] = answer.content_type
            if zipped:
                headers["Content-Encoding"] = "gzip"
                return web.Response(body=answer.gzipped, headers=headers)
            return web.Response(body=answer.body, headers=headers)
        return handle

    async def page(request: web.Request) -> Rendered:
        base = base_of(request, absolute=False)

        async def build(version: int) -> Rendered:
            state = await status_page.page_state(deps)
            return rendered(views.page(state, base).encode("utf-8"), HTML_TYPE, version, state)
        return await deps.status_cache.get(f"page|{base}", build)

    async def incident(request: web.Request) -> Rendered | None:
        match = _REF.match(request.match_info["ref"])
        if match is None:
            return None
        number, base = int(match.group(1)), base_of(request, absolute=False)
        settings = irbot.settings.status_page
        assert settings is not None

        async def build(version: int) -> Rendered:
            shown = await status_page.incident_state(deps, number)
            body = views.incident(shown, settings, base).encode("utf-8") if shown else b""
            return Rendered(body=body, content_type=HTML_TYPE if shown else "", etag=etag_of(body),
                            version=version, valid_until=None)
        answer = await deps.status_cache.get(f"incident|{number}|{base}", build)
        return answer if answer.content_type else None  # not on the page: 404 (remembered until a publication)

    async def feed(request: web.Request) -> Rendered:
        base = base_of(request, absolute=True)

        async def build(version: int) -> Rendered:
            state, entries = await status_page.feed_entries(deps, FEED_ENTRIES)
            return rendered(atom_feed(state, entries, base), ATOM_TYPE, version, state)
        return await deps.status_cache.get(f"feed|{base}", build)

    async def summary(request: web.Request) -> Rendered:
        base = base_of(request, absolute=True)

        async def build(version: int) -> Rendered:
            state = await status_page.page_state(deps)
            return rendered(summary_json(state, base), JSON_TYPE, version, state)
        return await deps.status_cache.get(f"summary|{base}", build)

    return [
        web.get("/status", serve(page)),
        web.get("/status/incidents/{ref}", serve(incident)),
        web.get("/status/feed.atom", serve(feed)),
        web.get("/status/summary.json", serve(summary)),
    ]


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match: ``*`` or a list of (possibly weak) entity tags; weak comparison, as RFC 9110 says for GET."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
