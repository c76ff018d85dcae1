"""``irbot serve`` starting up, as an operator meets it: what it says when a dependency is wrong or
missing, what ``/healthz`` answers while it waits for one, and what it logs.

Each test runs ``python -m irbot serve`` as a real process (the fake Slack stays in the test's own
event loop) and reads its exit code, its output and ``/healthz``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.rigs.processes import HOST, IrbotProcess, free_port, irbot_env
from tests.conftest import POSTGRES_URL

from .conftest import Scene

pytestmark = pytest.mark.slow

NO_SLACK = "http://127.0.0.1:9/api/"  # nothing listens there: connection refused


def _lines(bot: IrbotProcess) -> list[str]:
    return [line for line in bot.log_text().splitlines() if line.strip()]


async def _serve_until_it_ends(tmp_path: Path, database_url: str, **extra: str) -> tuple[int, list[str]]:
    env = irbot_env(api_url=NO_SLACK, database_url=database_url, bot_token="xoxb-unused",
                    signing_secret="unused", **extra)
    bot = IrbotProcess(env=env, log_dir=tmp_path / "logs")
    try:
        await bot.start(wait=False)
        code = await bot.wait_ended()
    finally:
        bot.kill()
    return code, _lines(bot)


def _no_psycopg(tmp_path: Path) -> str:
    """A folder to put first on PYTHONPATH in which ``import psycopg`` fails, as where the
    ``postgres`` extra was not installed."""
    folder = tmp_path / "no-psycopg"
    folder.mkdir()
    (folder / "psycopg.py").write_text("raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n",
                                       encoding="utf-8")
    return str(folder)


@pytest.mark.parametrize(("case", "cause"), [
    ("postgres-wrong-port", "refused"),
    ("sqlite-missing-folder", "unable to open database file"),
    ("sqlite-in-memory", "in memory"),
    ("postgres-without-driver", "pip install 'irbot[postgres]'"),
    ("postgres-missing-database", "does not exist"),
])
async def test_a_database_irbot_cannot_use_is_one_line_naming_database_url_and_exit_2(
        tmp_path: Path, case: str, cause: str) -> None:
    extra: dict[str, str] = {}
    if case == "postgres-wrong-port":
        url = f"postgresql://irbot:s3cret@127.0.0.1:{free_port()}/irbot"
    elif case == "sqlite-missing-folder":
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'irbot.db'}"
    elif case == "sqlite-in-memory":
        url = "sqlite://"
    elif case == "postgres-without-driver":
        url = "postgresql://irbot@127.0.0.1:5432/irbot"
        extra["PYTHONPATH"] = _no_psycopg(tmp_path)
    else:
        if not POSTGRES_URL:
            pytest.skip("needs the PostgreSQL server of IRBOT_TEST_DATABASE_URL")
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/irbot_no_such_database"
    code, lines = await _serve_until_it_ends(tmp_path, url, **extra)
    assert code == 2, lines
    assert len(lines) == 1, "\n".join(lines)
    [line] = lines
    assert line.startswith("irbot: DATABASE_URL") and cause in line, line
    assert "s3cret" not in line


async def test_a_port_in_use_is_reported_at_once_before_slack_is_asked(scene: Scene) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        bot = scene.process()
        bot.port = taken.getsockname()[1]
        await bot.start(wait=False)
        code = await bot.wait_ended()
    lines = _lines(bot)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith(f"irbot: PORT: cannot listen on port {bot.port}"), lines
    assert scene.calls("auth.test") == 0  # nobody waits for Slack to learn the port is taken


async def test_a_token_slack_refuses_stops_irbot_with_one_line_naming_slack_bot_token(scene: Scene) -> None:
    bot = scene.process()
    bot.env["SLACK_BOT_TOKEN"] = "xoxb-not-this-workspace"
    await bot.start(wait=False)
    code = await bot.wait_ended()
    lines = _lines(bot)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("irbot: SLACK_BOT_TOKEN") and "invalid_auth" in lines[0], lines
    assert "xoxb-not-this-workspace" not in lines[0]


async def test_while_slack_fails_healthz_answers_starting_and_says_why_then_ok_once_it_answers(
        scene: Scene) -> None:
    scene.fake.fail_next("auth.test", status=503, times=1_000_000)
    bot = await scene.process().start(wait=False)
    status, body = await scene.eventually(bot.healthz, what="/healthz answering at once")
    assert status == 503 and body["status"] == "starting", body
    status, body = await scene.eventually(
        lambda: _slack_problem(bot), what="/healthz naming Slack as the failing dependency")
    assert status == 503 and body["status"] == "starting", body
    assert body["checks"]["slack"] == "unreachable: Slack answered HTTP 503", body
    assert body["checks"]["database"] == "ok", body
    scene.fake.faults.clear()  # Slack is back
    body = await bot.wait_healthy()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok", "slack": "ok"}, body
    # Start-up went on once Slack answered: the announcement channel was looked up.
    assert scene.calls("conversations.list") >= 1


async def test_slack_unreachable_at_start_is_named_and_a_stop_then_is_clean(scene: Scene) -> None:
    bot = scene.process()
    bot.env["SLACK_API_URL"] = f"http://{HOST}:{free_port()}/api/"
    await bot.start(wait=False)
    status, body = await scene.eventually(lambda: _slack_problem(bot), what="/healthz naming Slack")
    assert status == 503 and body["status"] == "starting", body
    assert body["checks"]["slack"].startswith("unreachable: cannot connect to"), body
    assert bot.terminate() == 0, bot.log_text()
    assert "Traceback" not in bot.log_text()


async def _slack_problem(bot: IrbotProcess) -> tuple[int, dict] | None:
    answer = await bot.healthz()
    if answer is None or (answer[1].get("checks") or {}).get("slack", "").startswith(("connecting", "ok")):
        return None
    return answer


async def test_start_up_logs_one_line_of_what_irbot_runs_with_and_no_library_chatter(scene: Scene) -> None:
    bot = await scene.start()
    await scene.quiet(0.5)  # let whatever start-up logs after the first 200 be written
    text = bot.log_text()
    for chatter in ("setup plugin", "Context impl", "non-transactional DDL", "will be unused", "apscheduler"):
        assert chatter not in text, text
    started = [line for line in text.splitlines() if "irbot started" in line]
    assert len(started) == 1, text
    assert "HTTP mode" in started[0] and "#incidents" in started[0] and "scheduler active" in started[0], started
    assert f"port {bot.port}" in started[0], started


async def test_json_logs_are_one_object_a_line(scene: Scene) -> None:
    bot = scene.process()
    bot.env["IRBOT_LOG_FORMAT"] = "json"
    await bot.start()
    await scene.quiet(0.5)
    records = [json.loads(line) for line in bot.log_text().splitlines() if line.strip()]
    started = [r for r in records if r["message"].startswith("irbot started")]
    assert len(started) == 1, records
    assert started[0]["level"] == "INFO" and started[0]["logger"] == "irbot.app", started
    assert {"time", "level", "logger", "message"} <= set(started[0])


async def test_log_level_warning_leaves_out_every_info_line(scene: Scene) -> None:
    bot = scene.process()
    bot.env["IRBOT_LOG_LEVEL"] = "warning"
    await bot.start()
    await scene.quiet(0.5)
    text = bot.log_text()
    assert " INFO " not in text and "irbot started" not in text, text


@pytest.mark.parametrize(("variable", "value"), [("IRBOT_LOG_LEVEL", "loud"), ("IRBOT_LOG_FORMAT", "xml")])
async def test_a_bad_log_setting_is_one_line_and_exit_2(tmp_path: Path, database_url: str, variable: str,
                                                        value: str) -> None:
    code, lines = await _serve_until_it_ends(tmp_path, database_url, **{variable: value})
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith(f"irbot: {variable}") and repr(value) in lines[0], lines
