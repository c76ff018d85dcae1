"""``create_app``: builds and wires everything explicitly; importing this module does no I/O."""

from __future__ import annotations

import asyncio
import sys
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

import aiohttp
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from irbot.config import ConfigError, Settings
from irbot.deps import Deps, system_clock
from irbot.heartbeat import Heartbeat
from irbot.metrics import Metrics
from irbot.views.render import Renderer
from irbot.services import alerts, followups, paging, responders, tracker_inbound
from irbot.services.declare import resume_unfinished
from irbot.services import declare as declare_service, outbox as outbox_steps, playbooks, webhooks as webhook_steps
from irbot.work.engine import Sweeper
from irbot.services.timeline import backfill_recent
from irbot.scheduler import ReminderScheduler
from irbot.services.reminders import fire_reminder
from irbot.slack import clocks, commands, declare, errors, framework, membership, report, roles, timeline, updates
from irbot.slack import status_page as status_page_commands
from irbot.status_http import status_routes
from irbot.slack import paging as paging_command
from irbot.slack import home as home_tab, shortcuts
from irbot.slack import followups as followups_command
from irbot.services.overdue import DigestLoop
from irbot.outbound.slack import SlackGateway
from irbot.slack.pipeline import Pipeline
from irbot.slack.intake import MAX_BODY_BYTES, check_request
from irbot.store import repo
from irbot.store.db import Database, database_problem, display_url
from irbot.store.migrate import is_current, upgrade
from irbot.outbound.workspace import Workspace

if TYPE_CHECKING:
    from irbot.socket_mode import SocketModeConnection

log = logging.getLogger(__name__)


@dataclass
class StartUp:
    """How far start-up has come, for /healthz: each dependency's state in words, and whether done."""
    database: str = "connecting"  # then "ok" (the live ping answers from then on)
    slack: str = "connecting"  # "unreachable: <why>" while auth.test gets no answer, then "ok" (Socket Mode: connected)
    done: bool = False


@dataclass
class Irbot:
    settings: Settings
    deps: Deps
    bolt: AsyncApp
    metrics: Metrics
    web: web.Application
    heartbeat: Heartbeat
    pipeline: Pipeline
    outbox: Sweeper
    _runner: web.AppRunner | None = None
    port: int | None = None
    socket_mode: bool = False
    socket_ping_interval: float = 10.0  # how soon a dead Socket Mode connection is noticed (tests shorten it)
    _socket: SocketModeConnection | None = None
    startup: StartUp = field(default_factory=StartUp)
    migrate_in_child: bool = False  # `irbot serve` sets it: see _migrate
    _finishing: asyncio.Task[None] | None = None
    digests: DigestLoop | None = None  # the overdue follow-ups DM, once a business day

    async def start(self, *, port: int | None = None, host: str = "0.0.0.0", migrate: bool = True,
                    socket_mode: bool = False, wait: bool = True) -> int:
        """Listen at once (``/healthz`` answers "starting"), bring the database up to date, then reach
        Slack and finish start-up: learn the workspace, finish interrupted work, run the scheduler
        and (in Socket Mode) connect. Returns the HTTP port (in Socket Mode it serves all but
        /slack/events).

        With ``wait`` it returns once start-up has finished; without, once the database is ready,
        while Slack is still being reached in the background (``started()`` waits for it). What no
        retrying can fix is a ConfigError naming the setting: the port taken, a database irbot
        cannot use, a token Slack refuses."""
        self.socket_mode = socket_mode
        await self._listen(host, self.settings.port if port is None else port)
        try:
            await self._open_database(migrate)
        except BaseException:
            await self.stop()
            raise
        # One HTTP session for every Web API call (the SDK would otherwise open one per call).
        self.deps.slack.client.session = aiohttp.ClientSession()
        self._finishing = asyncio.get_running_loop().create_task(self._finish_start_up(), name="start-up")
        if wait:
            try:
                await self.started()
            except BaseException:
                await self.stop()
                raise
        return self.port

    async def started(self) -> None:
        """Wait until start-up has finished; raises what ended it early (a ConfigError: a token Slack
        refused). Being cancelled does not cancel start-up."""
        assert self._finishing is not None, "start() first"
        await asyncio.shield(self._finishing)

    async def _listen(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(f"PORT: cannot listen on port {port}: {exc.strerror or exc}") from None
        self.port = self._runner.addresses[0][1]

    async def _open_database(self, migrate: bool) -> None:
        """A database irbot cannot use (unreachable, missing, not writable) stops it here, in one line."""
        try:
            if migrate:
                await self._migrate()
            else:
                await self.deps.db.check()
        except (DBAPIError, PoolTimeout, OSError) as exc:
            log.debug("the database cannot be used", exc_info=True)
            raise ConfigError(database_problem(self.settings.database_url, exc)) from None
        self.startup.database = "ok"

    async def _migrate(self) -> None:
        """Bring the schema up to date. ``migrate_in_child``: in a short-lived ``irbot migrate``, so
        that Alembic, Mako and Pygments (about 11 MiB) never load into the serving process."""
        url = self.settings.database_url
        if not self.migrate_in_child:
            await asyncio.to_thread(upgrade, url)
            return
        if await asyncio.to_thread(is_current, url):
            return
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "irbot", "migrate", "--database", url,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, stderr = await child.communicate()
        if child.returncode == 0:
            return
        await self.deps.db.check()  # a database that cannot be reached is named as such
        said = stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError((said[-1] if said else "irbot migrate failed").removeprefix("irbot: "))

    async def _finish_start_up(self) -> None:
        def unreachable(why: str) -> None:
            self.startup.slack = f"unreachable: {why}"

        await self.deps.workspace.connect(on_unreachable=unreachable)
        self.startup.slack = "connecting over Socket Mode" if self.socket_mode else "ok"
        try:
            await self.heartbeat.start()  # from now on irbot takes Slack's events: gaps end here
            self.deps.tasks.spawn(resume_unfinished(self.deps), name="resume-unfinished")
            self.deps.tasks.spawn(backfill_recent(self.deps), name="backfill")  # said while no irbot listened
            self.outbox.start()  # work that changes committed before a crash still owe
            await self.deps.scheduler.start(spawn=self.deps.tasks.spawn)  # catch-up: background work
            self.digests = DigestLoop(self.deps)
            self.digests.start()
        except (DBAPIError, PoolTimeout, OSError) as exc:  # the database went away while Slack was awaited
            raise ConfigError(database_problem(self.settings.database_url, exc)) from None
        if self.socket_mode:
            # Imported only in Socket Mode: Bolt's and the SDK's WebSocket clients stay out of a
            # process that serves HTTP.
            from irbot.socket_mode import SocketModeConnection
            self._socket = SocketModeConnection(self.bolt, self.pipeline, self.settings,
                                                ping_interval=self.socket_ping_interval)
            await self._socket.connect_async()
            self.startup.slack = "ok"
        self.startup.done = True
        log.info("%s", self._started_line())

    def _started_line(self) -> str:
        workspace = self.deps.workspace
        announce = f"#{workspace.announce_name.lstrip('#')}"
        announce += f" ({workspace.announce_channel_id})" if workspace.announce_channel_id else " (not usable: see above)"
        scheduler = self.deps.scheduler
        return (f"irbot started: {'Socket Mode' if self.socket_mode else 'HTTP mode'}, port {self.port}, "
                f"database {display_url(self.settings.database_url)}, announcement channel {announce}, "
                f"scheduler {'active' if scheduler is not None and scheduler.is_leader else 'standby'}")

    async def stop(self) -> None:
        """Stop whatever has started (start-up may have stopped half-way)."""
        if self._finishing is not None:
            self._finishing.cancel()
            await asyncio.gather(self._finishing, return_exceptions=True)
            self._finishing = None
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.deps.scheduler.stop()
        if self.digests is not None:
            await self.digests.stop()
        await self.outbox.stop()
        await self.deps.tasks.cancel_all()
        if self.heartbeat.running:
            await self.heartbeat.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
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

    for owed_steps in (outbox_steps, declare_service, playbooks, webhook_steps, paging, responders,
                       followups):  # what each kind of owed work's steps do
        owed_steps.register(deps.work)
    deps.scheduler = ReminderScheduler(deps.db, fire, clock, on_leadership=metrics.scheduler_active.set)
    # Bolt does not check signatures again: intake has checked each one over the raw body before
    # anything reaches Bolt (a second HMAC and a second parse of the body cost a fifth of a command's CPU).
    bolt = AsyncApp(signing_secret=settings.slack_signing_secret, request_verification_enabled=False,
                    client=client, process_before_response=True, name="irbot")
    for feature in (clocks, commands, declare, errors, framework, membership, report, roles, timeline, updates,
                    status_page_commands, paging_command, shortcuts, home_tab, followups_command):
        feature.register(bolt, deps)
    irbot = Irbot(settings=settings, deps=deps, bolt=bolt, metrics=metrics, web=web.Application(client_max_size=MAX_BODY_BYTES),
                  heartbeat=Heartbeat(deps), pipeline=Pipeline(bolt, deps), outbox=Sweeper(deps.work))
    irbot.web.add_routes([
        web.post("/slack/events", _slack_events(irbot)),
        web.get("/healthz", _healthz(irbot)),
        web.get("/metrics", _metrics(irbot)),
        web.post("/alerts/alertmanager", _alertmanager(irbot)),
        *status_routes(irbot),  # the public status page (404 without a [status_page] section)
        web.post("/pagerduty/webhook", _pagerduty_webhook(irbot)),
        web.post("/tracker/webhook", _tracker_webhook(irbot)),
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
        if not irbot.startup.done:
            return _starting()  # Slack sends events again; a person is told the command failed
        response = await irbot.pipeline.handle(payload, lambda: AsyncBoltRequest(
            body="", query=request.query_string, headers=dict(request.headers)))  # the body: the admitted payload
        headers = {k: v[0] for k, v in response.headers.items() if v and k.lower() != "content-length"}
        return web.Response(status=response.status, body=response.body.encode("utf-8"), headers=headers)
    return handle


def _healthz(irbot: Irbot):  # noqa: ANN202
    async def handle(_request: web.Request) -> web.Response:
        """200 once start-up has finished and while the database answers; 503 before ("starting") or
        when it does not ("failing"). ``checks`` names the failing dependency; ``scheduler`` says
        whether this replica runs the reminders now (it holds the lock) or stands by."""
        startup = irbot.startup
        database = startup.database
        if database == "ok" and not await irbot.deps.db.ping():
            database = "unreachable"
        status = "starting" if not startup.done else "ok" if database == "ok" else "failing"
        scheduler = irbot.deps.scheduler
        body = {"status": status, "checks": {"database": database, "slack": startup.slack},
                "scheduler": "active" if scheduler is not None and scheduler.is_leader else "standby"}
        return web.json_response(body, status=200 if status == "ok" else 503)
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
        if not irbot.startup.done:
            return _starting()  # Alertmanager sends it again
        try:
            notification = alerts.parse_notification(await request.read())
        except alerts.MalformedNotification as exc:
            return web.json_response({"error": f"malformed notification: {exc}"}, status=400)
        outcome = await alerts.receive(notification, irbot.deps)
        irbot.metrics.alerts_received.labels(action=outcome.action).inc()
        return web.json_response({"action": outcome.action, "incident": outcome.incident})
    return handle


def _pagerduty_webhook(irbot: Irbot):  # noqa: ANN202
    async def handle(request: web.Request) -> web.Response:
        """PagerDuty's V3 webhooks: checked against ``webhook_secret`` over the exact bytes first."""
        pagerduty = irbot.settings.pagerduty
        if pagerduty is None or not pagerduty.webhook_secret:
            raise web.HTTPNotFound()
        raw = await request.read()
        if not paging.signature_ok(raw, request.headers.get("X-PagerDuty-Signature", ""), pagerduty.webhook_secret):
            return web.json_response({"error": "bad or missing X-PagerDuty-Signature"}, status=401)
        if not irbot.startup.done:
            return _starting()  # PagerDuty sends it again
        outcome = await paging.receive_webhook(raw, irbot.deps)
        return web.json_response({"action": outcome.action}, status=outcome.status)
    return handle


def _tracker_webhook(irbot: Irbot):  # noqa: ANN202
    async def handle(request: web.Request) -> web.Response:
        """401 for a bad signature (nothing changed); 200 for issues irbot did not make (ignored)."""
        if irbot.settings.tracker is None:
            raise web.HTTPNotFound()
        if not irbot.startup.done:
            return _starting()  # the tracker delivers again
        answer = await tracker_inbound.receive(request.headers, await request.read(), irbot.deps)
        return web.json_response({"outcome": answer.outcome}, status=answer.status)
    return handle


def _starting() -> web.Response:
    """Until start-up has finished irbot does not know itself in Slack (nor, migrating, its tables)."""
    return web.json_response({"error": "starting"}, status=503, headers={"Retry-After": "5"})


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
