"""What services need, built once by ``create_app`` and passed in explicitly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from irbot.config import Settings
from irbot.metrics import Metrics
from irbot.views.render import Renderer
from irbot.outbound.slack import SlackGateway
from irbot.store.channel_incidents import ChannelIncidents
from irbot.store.db import Database
from irbot.store.status_page import StatusPageCache, status_version
from irbot.tasks import TaskRunner
from irbot.work.engine import Engine
from irbot.outbound.workspace import Workspace

if TYPE_CHECKING:
    from irbot.scheduler import ReminderScheduler


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Deps:
    settings: Settings
    db: Database
    slack: SlackGateway
    renderer: Renderer
    workspace: Workspace
    tasks: TaskRunner = field(default_factory=TaskRunner)
    clock: Callable[[], datetime] = system_clock
    scheduler: "ReminderScheduler | None" = None
    metrics: Metrics = field(default_factory=Metrics)
    # This process in the heartbeat table: only it is known to be listening right now.
    process_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # How long a declare whose Slack set-up failed waits before trying again (tests shorten it).
    setup_retry_delays: tuple[float, ...] = (5.0, 30.0, 120.0)
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    # Which incident each channel belongs to, remembered for this database (see store.channel_incidents).
    channels: ChannelIncidents = field(init=False)
    # The one engine for owed work; services register the steps they owe at start (see app.py).
    work: Engine = field(init=False)
    # The rendered status page, kept until a publication raises the version (see store.status_page).
    status_cache: StatusPageCache = field(init=False)

    def __post_init__(self) -> None:
        self.channels = ChannelIncidents(self.db)
        self.work = Engine(self)
        self.status_cache = StatusPageCache(self._status_version, lambda: self.clock())

    async def _status_version(self) -> int:
        async with self.db.reader() as session:
            return await status_version(session=session)

    def metrics_reminder(self, kind: str) -> None:
        self.metrics.reminders_sent.labels(kind=kind).inc()
