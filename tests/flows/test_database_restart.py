"""PostgreSQL restarting under irbot: requests in flight fail politely, later ones succeed.

Uses a private cluster (initdb/pg_ctl on its own port), never the shared server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from irbot.fakeslack.harness import Harness

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateCluster:
    def __init__(self, root: Path) -> None:
        self.data = root / "pgdata"
        self.port = _free_port()
        self.bin = BIN[-1]
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        root.chmod(0o777)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, f"{self.bin}/{tool}", *args], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    if not BIN or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed here")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="irbot-pg-"))
    private = PrivateCluster(root)
    private.start()
    try:
        yield private
    finally:
        try:
            private.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_restart_while_irbot_runs(cluster: PrivateCluster, slack_mode: str) -> None:
    harness = await Harness(database_url=cluster.url, socket_mode=slack_mode == "socket").start()
    try:
        alice = harness.user("alice")
        channel = await harness.declare("alice", "Before the restart")
        cluster.stop()
        during = await harness.slack.command(alice, "/incident", "note while the database is down",
                                             channel=channel.id)
        assert during.status == 200
        assert "can't reach its database" in harness.fake.text_of(during.json)
        await harness.slack.command(alice, "/incident", "declare During")
        await harness.settle()
        view = harness.slack.open_view(alice)
        await harness.slack.submit_view(alice, view["id"], {})
        assert "can't reach its database" in " ".join(harness.slack.view_errors(view["id"]).values())
        assert harness.slack.open_view(alice) is not None, "the form stays open: nothing typed is lost"
        cluster.start()
        await harness.slack.submit_view(alice, view["id"], {})
        await harness.settle()
        assert len(harness.incident_channels()) == 2, "the same form goes through once the database is back"
        after = await harness.slack.command(alice, "/incident", "note after the restart", channel=channel.id)
        assert after.status == 200 and "Noted" in harness.fake.text_of(after.json)
    finally:
        await harness.stop()


async def test_a_click_during_an_outage_is_answered(cluster: PrivateCluster, slack_mode: str) -> None:
    """A click is acknowledged at once and handled afterwards; when the database is out then, the
    person is told (ephemeral), and the same click works once it is back."""
    harness = await Harness(database_url=cluster.url, socket_mode=slack_mode == "socket").start()
    try:
        fake, bob = harness.fake, harness.user("bob")
        channel = await harness.declare("alice", "Clicked in the dark")
        await fake.join(bob, channel.id)
        card = harness.pinned(channel.id)[0]["ts"]
        cluster.stop()
        await harness.slack.click(bob, channel.id, card, "Take Incident Commander")
        await harness.settle()
        told = [fake.text_of(e) for e in fake.ephemerals(user=bob, channel=channel.id)]
        assert any("can't reach its database" in text for text in told), told
        cluster.start()
        await harness.slack.click(bob, channel.id, card, "Take Incident Commander")
        await harness.settle()
        assert f"*Incident Commander*: <@{bob.id}>" in harness.card(channel.id)
    finally:
        await harness.stop()


async def test_a_click_in_a_form_during_an_outage_is_answered(cluster: PrivateCluster, slack_mode: str) -> None:
    """A button in a form has no response_url: the person is told in a direct message."""
    from tests.flows.test_framework import run_assessment

    harness = await Harness(database_url=cluster.url, socket_mode=slack_mode == "socket").start()
    try:
        fake, alice = harness.fake, harness.user("alice")
        channel = await harness.declare("alice", "Assessed in the dark", values={"Severity": "SEV-3"})
        await harness.slack.command(alice, "/incident", f"assign commander <@{alice.id}>", channel=channel.id)
        result = await run_assessment(harness, "alice", channel.id, (4, 3, 3, 1))
        cluster.stop()
        await harness.slack.click_in_view(alice, result["id"], "Apply SEV-2")
        await harness.settle()
        told = [fake.text_of(m) for m in fake.dms_to(alice)] + [
            fake.text_of(e) for e in fake.ephemerals(user=alice)]
        assert any("can't reach its database" in text for text in told), told
        cluster.start()
    finally:
        await harness.stop()
