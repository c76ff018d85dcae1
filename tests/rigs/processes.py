"""Real ``irbot serve`` processes, for tests that kill, restart and replicate irbot.

:class:`IrbotProcess` starts ``python -m irbot serve`` as a child process on a free port with
the environment it needs, waits until ``GET /healthz`` answers 200, and can end it with
``kill()`` (SIGKILL: no shutdown code runs, as after a crash) or ``terminate()`` (SIGTERM: a
clean stop). Its output goes to a log file, so a failing test can say what irbot logged.

:class:`RoundRobin` is a tiny HTTP proxy that sends each request to the next backend in turn:
several replicas behind one Request URL, as a load balancer would put them. A backend that
refuses the connection (killed) is skipped, as a load balancer's health check would.

The fake Slack stays in the test's own event loop; the processes reach it via SLACK_API_URL.

    fake = await FakeSlack(signing_secret=secret, bot_token=token).start()
    env = irbot_env(api_url=fake.api_url, database_url=url, bot_token=token, signing_secret=secret)
    bot = await IrbotProcess(env=env, log_dir=tmp_path).start()
    fake.app_url = bot.events_url
    ...
    bot.kill()
    await bot.start()       # the same port again, a new process on the same database
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Mapping, Sequence

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"
# Variables of the test's own environment that would change what the child does.
_NOT_INHERITED = ("SLACK_APP_TOKEN", "IRBOT_CONFIG", "IRBOT_TEMPLATES", "IRBOT_ANNOUNCE_CHANNEL",
                  "IRBOT_ALERT_TOKEN", "DATABASE_URL", "PORT", "IRBOT_LOG_LEVEL", "IRBOT_LOG_FORMAT")


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def irbot_env(*, api_url: str, database_url: str, bot_token: str, signing_secret: str,
              config: str | os.PathLike[str] | None = None, **extra: str) -> dict[str, str]:
    """The environment ``irbot serve`` reads (see ``irbot.cli``)."""
    env = {"SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing_secret, "SLACK_API_URL": api_url,
           "DATABASE_URL": database_url, **extra}
    if config is not None:
        env["IRBOT_CONFIG"] = str(config)
    return env


def serve_env(env: Mapping[str, str], port: int) -> dict[str, str]:
    """The test's environment less what would change the child, plus ``env`` and the port."""
    full = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    full.update(env)
    full.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    return full


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be killed if the test process dies (no stray servers)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class IrbotExited(RuntimeError):
    """The process ended (or never became healthy); the message carries the end of its log."""


class IrbotProcess:
    """One ``irbot serve`` child process; ``start()`` again after ``kill()`` restarts it on the same port."""

    def __init__(self, *, env: Mapping[str, str], log_dir: str | os.PathLike[str], name: str = "irbot",
                 port: int | None = None) -> None:
        self.env = dict(env)
        self.name = name
        self.port = port or free_port()
        self.log_dir = Path(log_dir)
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    # ---- where it listens --------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def events_url(self) -> str:
        """The Request URL: what Slack (the fake) posts to."""
        return f"{self.url}/slack/events"

    @property
    def stderr_path(self) -> Path | None:
        """The log of the current (or last) run: stderr and stdout together."""
        return self.log_path

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- life ----------------------------------------------------------------------
    async def start(self, timeout: float = 60.0, *, wait: bool = True) -> IrbotProcess:
        """Start ``python -m irbot serve`` and wait until ``/healthz`` answers 200 (``wait=False``:
        return at once, for tests that watch start-up itself)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"{self.name}-run{self.starts}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in _close_log
        self.proc = subprocess.Popen([sys.executable, "-m", "irbot", "serve"], env=serve_env(self.env, self.port),
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        if not wait:
            return self
        try:
            await self.wait_healthy(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    async def wait_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise IrbotExited(f"{self.name} exited with code {self.returncode} before it was healthy:\n"
                                  f"{self.log_tail()}")
            answer = await self.health()
            if answer is not None:
                return answer
            if time.monotonic() > deadline:
                raise IrbotExited(f"{self.name} not healthy after {timeout:.0f}s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def wait_ended(self, timeout: float = 60.0) -> int:
        """Wait (without blocking the test's event loop, where the fake Slack runs) until the process
        has ended on its own; returns its exit code."""
        deadline = time.monotonic() + timeout
        while self.running:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout:.0f}s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        self._reap(1.0)
        assert self.returncode is not None
        return self.returncode

    async def healthz(self) -> tuple[int, dict[str, Any]] | None:
        """``/healthz``'s status and JSON whatever the status, or None while it does not answer."""
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"{self.url}/healthz") as resp:
                    body = await resp.json(content_type=None)
                    return resp.status, body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None

    async def health(self) -> dict[str, Any] | None:
        """``/healthz``'s JSON when it answers 200, else None."""
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"{self.url}/healthz") as resp:
                    if resp.status != 200:
                        return None
                    body = await resp.json(content_type=None)
                    return body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL: the process ends at once, in the middle of whatever it was doing."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
        self._reap(10.0)

    def terminate(self, timeout: float = 20.0, *, wait: bool = True) -> int | None:
        """SIGTERM (a clean stop); SIGKILL if it has not ended within ``timeout``. Returns the exit code.

        ``wait=False`` only sends the signal (stop several at once, then ``terminate()`` each).
        """
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            if not wait:
                return None
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
        self._reap(10.0)
        return self.returncode

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def _reap(self, timeout: float) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                pass
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # ---- what it said ----------------------------------------------------------------
    def log_text(self, run: int | None = None) -> str:
        path = self.log_dir / f"{self.name}-run{run}.log" if run is not None else self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_text(encoding="utf-8", errors="replace")

    def logs(self) -> str:
        """Every run's log, oldest first, headed by the run number."""
        return "".join(f"----- {self.name} run {n} -----\n{self.log_text(n)}" for n in range(1, self.starts + 1))

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else f"exited {self.returncode}"
        return f"<IrbotProcess {self.name} {self.url} {state}>"


_HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                         "content-encoding", "date", "server"})


class RoundRobin:
    """An HTTP proxy that sends each request to the next of ``urls`` (base URLs, e.g. ``bot.url``).

    ``forwarded`` records which backend got each request (index into ``urls``). A backend that
    refuses the connection is skipped for that request; if every one refuses, the answer is 502.
    """

    def __init__(self, urls: Sequence[str], *, timeout: float = 30.0) -> None:
        if not urls:
            raise ValueError("RoundRobin needs at least one backend")
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout = timeout
        self.forwarded: list[int] = []
        self.port: int | None = None
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    async def start(self) -> RoundRobin:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RoundRobin:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # A fresh connection per request: a killed backend never leaves a dead pooled one behind.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True),
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout),
                                                  auto_decompress=False)
        return self._session

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        first = next(self._turn)
        for attempt in range(len(self.urls)):
            index = (first + attempt) % len(self.urls)
            target = self.urls[index] + request.path_qs
            try:
                async with self._client().request(request.method, target, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    self.forwarded.append(index)
                    out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP}
                    return web.Response(status=resp.status, body=payload, headers=out)
            except aiohttp.ClientConnectorError:
                continue  # that replica is down: the next one answers
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                # It took the request and died (or hung): Slack sees an error and may retry.
                self.forwarded.append(index)
                return web.Response(status=502, text=f"backend failed: {type(exc).__name__}")
        return web.Response(status=502, text="no backend answered")
