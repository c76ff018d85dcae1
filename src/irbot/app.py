"""``create_app``: builds and wires everything explicitly; importing this module does no I/O."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import aiohttp
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from irbot.config import Settings
from irbot.deps import Deps, system_clock
from irbot.heartbeat import Heartbeat
from irbot.metrics import Metrics
from irbot.render import Renderer
from irbot.services import alerts
from irbot.services.declare import resume_unfinished
from irbot.services.outbox import OutboxSweeper
from irbot.scheduler import ReminderScheduler
from irbot.services.reminders import fire_reminder
from irbot.slack import clocks, commands, declare, errors, framework, report, roles, timeline, updates
from irbot.slack.gateway import SlackGateway
from irbot.slack.pipeline import Pipeline
from irbot.slack.intake import MAX_BODY_BYTES, check_request
from irbot.socket_mode import SocketModeConnection
from irbot.store import repo
from irbot.store.db import Database
from irbot.store.migrate import upgrade
from irbot.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Irbot:
    settings: Settings
    deps: Deps
    bolt: AsyncApp
    metrics: Metrics
    web: web.Application
    heartbeat: Heartbeat
    pipeline: Pipeline
    outbox: OutboxSweeper
    _runner: web.AppRunner | None = None
    port: int | None = None
    socket_mode: bool = False
    socket_ping_interval: float = 10.0  # how soon a dead Socket Mode connection is noticed (tests shorten it)
    _socket: SocketModeConnection | None = None

    async def start(self, *, port: int | None = None, host: str = "0.0.0.0", migrate: bool = True,
                    socket_mode: bool = False) -> int:
        """Migrate, learn the workspace, finish interrupted work, listen, then (in Socket Mode) connect
        to Slack. Returns the HTTP port (in Socket Mode it serves all but /slack/events)."""
        if migrate:
            await asyncio.to_thread(upgrade, self.settings.database_url)
        # One HTTP session for every Web API call (the SDK would otherwise open one per call).
        self.deps.slack.client.session = aiohttp.ClientSession()
        await self.heartbeat.start()
        await self.deps.workspace.connect()
        self.deps.tasks.spawn(resume_unfinished(self.deps), name="resume-unfinished")
        self.outbox.start()  # Slack work that changes committed before a crash still owe
        await self.deps.scheduler.start(spawn=self.deps.tasks.spawn)  # catch-up: background work
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.settings.port if port is None else port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("irbot listening on port %d", self.port)
        if socket_mode:
            self.socket_mode = True
            self._socket = SocketModeConnection(self.bolt, self.pipeline, self.settings,
                                                ping_interval=self.socket_ping_interval)
            await self._socket.connect_async()
        return self.port

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.deps.scheduler.stop()
        await self.outbox.stop()
        await self.deps.tasks.cancel_all()
        await self.heartbeat.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.deps.slack.client.session is not None:
            await self.deps.slack.client.session.close()
            self.deps.slack.client.session = None
        await self.deps.db.dispose()


def create_app(settings: Settings, *, clock: Callable[[], datetime] = system_clock,
               retry_base_delay: float = 0.5) -> Irbot:
    metrics = Metrics()
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)
    gateway = SlackGateway(client, base_delay=retry_base_delay, observe=metrics.observe_slack_call)
    deps = Deps(settings=settings, db=Database(settings.database_url), slack=gateway,
                renderer=Renderer(settings.templates_dir),
                workspace=Workspace(gateway, settings.announce_channel), clock=clock, metrics=metrics)

    async def fire(incident_id: int, kind: str, due_at: datetime) -> None:
        await fire_reminder(incident_id, kind, due_at, deps)

    deps.scheduler = ReminderScheduler(deps.db, fire, clock, on_leadership=metrics.scheduler_active.set)
    bolt = AsyncApp(signing_secret=settings.slack_signing_secret,
                    client=client, process_before_response=True, name="irbot")
    for feature in (clocks, commands, declare, errors, framework, report, roles, timeline, updates):
        feature.register(bolt, deps)
    irbot = Irbot(settings=settings, deps=deps, bolt=bolt, metrics=metrics, web=web.Application(client_max_size=MAX_BODY_BYTES),
                  heartbeat=Heartbeat(deps), pipeline=Pipeline(bolt, deps), outbox=OutboxSweeper(deps))
    irbot.web.add_routes([
        web.post("/slack/events", _slack_events(irbot)),
        web.get("/healthz", _healthz(irbot)),
        web.get("/metrics", _metrics(irbot)),
        web.post("/alerts/alertmanager", _alertmanager(irbot)),
    ])
    return irbot


def _slack_events(irbot: Irbot):  # noqa: ANN202 - aiohttp handler factory
    async def handle(request: web.Request) -> web.Response:
        if irbot.socket_mode:
            raise web.HTTPNotFound()  # Slack sends everything over the WebSocket
        raw = await request.read()  # bigger than client_max_size: aiohttp answers 413
        refusal, payload = check_request(raw, request.headers, irbot.settings.slack_signing_secret)
        if refusal is not None:
            return web.json_response({"error": refusal.reason}, status=refusal.status)
        response = await irbot.pipeline.handle(payload, lambda: AsyncBoltRequest(
            body=raw.decode("utf-8"), query=request.query_string, headers=dict(request.headers)))
        headers = {k: v[0] for k, v in response.headers.items() if v and k.lower() != "content-length"}
        return web.Response(status=response.status, body=response.body.encode("utf-8"), headers=headers)
    return handle


def _healthz(irbot: Irbot):  # noqa: ANN202
    async def handle(_request: web.Request) -> web.Response:
        # "scheduler" says whether this replica runs the reminders now (it holds the lock) or stands by.
        scheduler = irbot.deps.scheduler
        role = "active" if scheduler is not None and scheduler.is_leader else "standby"
        if await irbot.deps.db.ping():
            return web.json_response({"ok": True, "scheduler": role})
        return web.json_response({"ok": False, "error": "database unreachable", "scheduler": role}, status=503)
    return handle


def _metrics(irbot: Irbot):  # noqa: ANN202
    async def handle(_request: web.Request) -> web.Response:
        await _read_gauges(irbot)
        return web.Response(body=irbot.metrics.render(), headers={"Content-Type": irbot.metrics.content_type})
    return handle


def _alertmanager(irbot: Irbot):  # noqa: ANN202
    async def handle(request: web.Request) -> web.Response:
        token = irbot.settings.alert_token
        if not token:
            raise web.HTTPNotFound()
        if not alerts.authorized(request.headers.get("Authorization", ""), token):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            notification = alerts.parse_notification(await request.read())
        except alerts.MalformedNotification as exc:
            return web.json_response({"error": f"malformed notification: {exc}"}, status=400)
        outcome = await alerts.receive(notification, irbot.deps)
        irbot.metrics.alerts_received.labels(action=outcome.action).inc()
        return web.json_response({"action": outcome.action, "incident": outcome.incident})
    return handle


async def _read_gauges(irbot: Irbot) -> None:
    """Open incidents and owed Slack work are read from the database at scrape time (right across
    replicas)."""
    try:
        async with irbot.deps.db.reader() as session:
            counts = await repo.open_by_severity(session=session)
            owed = await repo.outbox_counts(session=session)
    except (DBAPIError, PoolTimeout, OSError):
        return  # /healthz reports the database; the other series still answer
    gauge = irbot.metrics.incidents_open
    for severity in {s.key for s in irbot.settings.severities} | set(counts):
        gauge.labels(severity=severity).set(counts.get(severity, 0))
    for state in ("pending", "failed"):
        irbot.metrics.outbox_items.labels(state=state).set(owed.get(state, 0))
