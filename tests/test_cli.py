"""The ``irbot`` command line as an operator meets it: real processes, their output and exit codes.

Configuration and input problems are one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from irbot.cli import main

# Variables irbot reads; each test starts without them so the machine's own settings do not leak in.
IRBOT_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "DATABASE_URL",
                   "PORT", "IRBOT_ANNOUNCE_CHANNEL", "IRBOT_CONFIG", "IRBOT_TEMPLATES", "IRBOT_ALERT_TOKEN")


def irbot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m irbot …`` in ``cwd`` with only ``env`` set (and a private temp folder)."""
    tmp = cwd / ".tmp"
    tmp.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "irbot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(tmp),
                                            **(env or {})})


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in IRBOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- reading commands find the database, and never create one -----------------------------------------

@pytest.mark.parametrize("command", [["postmortem", "INC-1"], ["verify", "INC-1"], ["export", "INC-1"], ["report"]])
def test_reading_commands_do_not_create_a_database(tmp_path: Path, command: list[str]) -> None:
    result = irbot(*command, cwd=tmp_path)
    one_line_error(result, "no irbot database", "irbot.db", "irbot demo")
    assert not (tmp_path / "irbot.db").exists(), "a command that only reads created a database"
    missing = tmp_path / "elsewhere" / "irbot.db"
    result = irbot(*command, "--database", f"sqlite:///{missing}", cwd=tmp_path)
    one_line_error(result, "no irbot database", str(missing))
    assert not missing.parent.exists()


def test_a_database_without_irbot_tables_is_named_not_read(database_url: str, tmp_path: Path) -> None:
    """An empty PostgreSQL database (or a SQLite file of someone else's) is not an irbot database."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.close()
    for command in (["postmortem", "INC-1"], ["verify", "INC-1"], ["export", "INC-1"], ["report"]):
        result = irbot(*command, "--database", database_url, cwd=tmp_path)
        one_line_error(result, "no irbot database", "irbot demo")
        assert "no such table" not in result.stderr and "does not exist" not in result.stderr


def test_an_older_schema_asks_for_migrate_which_brings_it_up_to_date(database_url: str, tmp_path: Path) -> None:
    from alembic import command

    from irbot.store.migrate import alembic_config
    command.upgrade(alembic_config(database_url), "0001")  # as an older irbot left it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    one_line_error(irbot("verify", "INC-1", "--database", database_url, cwd=elsewhere), "older", "irbot migrate")
    migrated = irbot("migrate", "--database", database_url, cwd=elsewhere)
    assert migrated.returncode == 0, migrated.stderr
    one_line_error(irbot("verify", "INC-1", "--database", database_url, cwd=elsewhere), "no incident INC-1")
    assert not (elsewhere / "irbot.db").exists()


def test_the_database_option_wins_over_the_environment(tmp_path: Path) -> None:
    result = irbot("verify", "INC-1", "--database", f"sqlite:///{tmp_path / 'given.db'}", cwd=tmp_path,
                   env={"DATABASE_URL": f"sqlite:///{tmp_path / 'from-env.db'}"})
    one_line_error(result, "given.db")
    assert "from-env.db" not in result.stderr


@pytest.mark.parametrize("command", ["postmortem", "verify", "export", "report", "migrate"])
def test_help_says_where_a_command_reads(command: str, clean_env: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://irbot:hunter2@db.example:5432/irbot")
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "--database URL" in shown and "DATABASE_URL" in shown
    assert "db.example" in shown and "hunter2" not in shown


# --- the demo leaves what it says, and its commands work as printed ------------------------------------

def followups(stdout: str) -> list[list[str]]:
    """The commands the demo prints for exploring what it left (indented, each with --database)."""
    return [shlex.split(line) for line in stdout.splitlines() if line.startswith("  ") and "--database" in line]


def test_demo_twice_into_one_folder_replaces_its_files_and_leaves_no_temp_folder(tmp_path: Path) -> None:
    out = tmp_path / "demo out"
    for _ in range(2):
        result = irbot("demo", "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["irbot-demo.db", "postmortem-INC-1.md", "status-page.html"]
        assert "Checkout errors" in (out / "status-page.html").read_text(encoding="utf-8")
        assert list((tmp_path / ".tmp").iterdir()) == [], "the demo left a temp folder behind"
    commands = followups(result.stdout)
    assert {word for command in commands for word in command} >= {"postmortem", "verify", "export", "report"}
    for command in commands:
        explored = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        assert explored.returncode == 0, (command, explored.stderr)
        if "postmortem" in command:
            assert "Post-mortem: INC-1 · Checkout API returning 502s" in explored.stdout
    assert not (tmp_path / "irbot.db").exists()


def test_demo_without_out_leaves_its_files_where_it_says(tmp_path: Path) -> None:
    result = irbot("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "irbot-demo"
    assert sorted(p.name for p in folder.iterdir()) == ["irbot-demo.db", "postmortem-INC-1.md", "status-page.html"]
    assert str(folder / "irbot-demo.db") in result.stdout and str(folder / "status-page.html") in result.stdout
    assert list((tmp_path / ".tmp").iterdir()) == []
    [postmortem] = [c for c in followups(result.stdout) if "postmortem" in c]
    explored = subprocess.run(postmortem, cwd="/", capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert explored.returncode == 0 and "Post-mortem: INC-1" in explored.stdout, explored.stderr


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_demo_into_a_place_it_cannot_write_is_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = irbot("demo", "--out", str(tmp_path / where), cwd=tmp_path)
    one_line_error(result, str(tmp_path / where))
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"


# --- --version and `irbot config` ------------------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"irbot {version('irbot')}\n"


def config_lines(out: str) -> dict[str, tuple[str, str]]:
    """``NAME  source  value`` lines of ``irbot config``: (source, value) by name."""
    rows = [line.split(maxsplit=2) for line in out.splitlines() if line and not line.startswith("irbot")]
    return {name: (source, value) for name, source, value in rows}


def test_config_shows_settings_and_sources_with_secrets_masked(clean_env: pytest.MonkeyPatch, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "irbot.toml"
    settings.write_text('timezone = "Europe/Paris"\nannounce_channel = "ops"\n'
                        '[[webhooks]]\nurl = "https://hooks.example.com/services/T0/B0/pathsecret?key=querysecret"\n'
                        'secret = "webhooksecret123"\n', encoding="utf-8")
    bot_token, signing, alert = "xoxb-1111-2222-abcdefghijkl", "0123456789abcdef0123456789abcdef", "alert-token-xyz9"
    for name, value in {"SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing, "IRBOT_ALERT_TOKEN": alert,
                        "DATABASE_URL": "postgresql://irbot:pgpassword@db.example:5432/irbot",
                        "IRBOT_CONFIG": str(settings), "IRBOT_ANNOUNCE_CHANNEL": "war-room"}.items():
        clean_env.setenv(name, value)
    assert main(["config"]) == 0
    captured = capsys.readouterr()
    shown = captured.out
    for secret in (bot_token, signing, alert, "pgpassword", "webhooksecret123", "pathsecret", "querysecret",
                   signing[-5:], bot_token[-5:]):
        assert secret not in shown + captured.err
    lines = config_lines(shown)
    assert lines["SLACK_BOT_TOKEN"] == ("environment", "xoxb-…ijkl")
    assert lines["SLACK_SIGNING_SECRET"][0] == "environment" and lines["SLACK_APP_TOKEN"] == ("default", "(unset)")
    assert lines["DATABASE_URL"] == ("environment", "postgresql://irbot:***@db.example:5432/irbot")
    assert lines["PORT"] == ("default", "3000")
    assert lines["timezone"] == ("file", "Europe/Paris")
    assert lines["IRBOT_ANNOUNCE_CHANNEL"] == ("environment", "war-room")
    assert lines["webhooks"][0] == "file" and "hooks.example.com" in lines["webhooks"][1]
    assert lines["channel_prefix"] == ("default", "inc")
    assert str(settings) in shown
    assert captured.err == ""


@pytest.mark.parametrize("env, problem", [
    ({}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-3"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "sqlite:////no/such/dir/i.db"},
     "/no/such/dir"),
    ({"SLACK_BOT_TOKEN": "xoxp-not-a-bot-token"}, "SLACK_BOT_TOKEN"),
    ({"PORT": "http"}, "PORT"),
])
def test_config_names_the_first_problem_and_exits_2(env: dict[str, str], problem: str, tmp_path: Path) -> None:
    result = irbot("config", cwd=tmp_path, env=env)
    one_line_error(result, problem)
    assert "xoxp-not-a-bot-token" not in result.stdout + result.stderr


def test_config_is_fine_with_socket_mode_and_no_signing_secret(tmp_path: Path) -> None:
    result = irbot("config", cwd=tmp_path, env={"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_APP_TOKEN": "xapp-1-2-3",
                                                "DATABASE_URL": f"sqlite:///{tmp_path / 'irbot.db'}"})
    assert result.returncode == 0, result.stderr
    assert "Socket Mode" in result.stdout
    assert not (tmp_path / "irbot.db").exists(), "irbot config must not create the database"
