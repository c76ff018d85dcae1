"""Socket Mode: Slack's requests arrive over a WebSocket instead of ``POST /slack/events``.

This is Bolt's own ``AsyncSocketModeHandler`` (slack_sdk's aiohttp ``SocketModeClient``: it calls
``apps.connections.open`` with the app-level token, reconnects when Slack sends ``disconnect`` or
the connection drops, and pings to notice dead connections) with one method overridden: each
envelope goes through irbot's :class:`~irbot.slack.pipeline.Pipeline` — shape check, delivery
claim, Bolt — exactly as an HTTP request does, and is answered the way Bolt answers
(``send_async_response``: the ack carries Bolt's response body as its payload).

Acks: every envelope irbot can handle or refuses is acknowledged (a refused one with an empty ack:
Slack sending it again would not make it acceptable). Only when the answer is a 5xx — the
database is unreachable while an event arrives — is the envelope left unacknowledged, so that
Slack delivers it again, as it retries an HTTP request answered with a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from irbot.config import ConfigError, Settings
from irbot.slack.pipeline import Pipeline

log = logging.getLogger(__name__)

ACK_DEADLINE = 3.0
# apps.connections.open errors that retrying cannot fix: a wrong or revoked app-level token.
TOKEN_ERRORS = ("invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive")


class SocketModeConnection(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, dispatching through irbot's pipeline."""

    def __init__(self, bolt: AsyncApp, pipeline: Pipeline, settings: Settings, *, ping_interval: float = 10.0) -> None:
        if not settings.slack_app_token:
            raise ConfigError("Socket Mode needs SLACK_APP_TOKEN (an app-level token starting with xapp-)")
        # apps.connections.open goes to SLACK_API_URL like every other call (a fake Slack in tests).
        web_client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)
        super().__init__(bolt, app_token=settings.slack_app_token, web_client=web_client,
                         ping_interval=ping_interval)
        self.pipeline = pipeline
        self._in_flight: set[asyncio.Task] = set()

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            response = await self.pipeline.handle(req.payload, lambda: AsyncBoltRequest(
                mode="socket_mode", body=req.payload, headers=build_headers(req)))
            if response.status == 200:
                await send_async_response(client, req, response, started)
            elif response.status < 500:
                log.info("Socket Mode %s envelope refused (%d %s); acknowledged", req.type, response.status,
                         response.body[:200])
                await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            else:
                log.warning("Socket Mode %s envelope failed (%d); left unacknowledged so Slack sends it again",
                            req.type, response.status)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def connect_async(self) -> None:
        """Connect; a refused app token is a configuration error, anything else is retried (as Bolt does)."""
        try:
            self.client.wss_uri = await self.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in TOKEN_ERRORS:
                raise ConfigError(f"Slack refused SLACK_APP_TOKEN for Socket Mode: {error} "
                                  "(it needs the connections:write scope)") from None
            log.warning("apps.connections.open failed (%s); retrying", error)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            log.warning("apps.connections.open failed (%s); retrying", type(exc).__name__)
        await self.client.connect()  # retries until connected, every ping_interval
        log.info("connected to Slack over Socket Mode")

    async def close_async(self) -> None:
        """Let envelopes being handled finish (and be acked), then close the connection for good."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=ACK_DEADLINE)
        client = self.client
        await client.close()
        background = [t for t in (client.message_processor, client.current_session_monitor, client.message_receiver)
                      if t is not None]
        await asyncio.gather(*background, return_exceptions=True)
        if client.web_client.session is not None:
            await client.web_client.session.close()
