"""The README and docs/operations.md describe what irbot has: every subcommand, the compose services,
and no notes left over from building it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import irbot.app  # noqa: F401 - registers every /incident subcommand
from irbot.cli import build_parser
from irbot.slack.commands import HANDLERS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
OPERATIONS = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_slack_table_lists_every_incident_subcommand() -> None:
    table = section(README, "What people do in Slack")
    verbs_of: dict[object, list[str]] = {}
    for verb, handler in HANDLERS.items():
        verbs_of.setdefault(handler, []).append(verb)
    missing = [verbs[0] for verbs in verbs_of.values() if not any(f"`/incident {v}" in table for v in verbs)]
    assert not missing, f"the README's Slack table does not list /incident {', '.join(missing)}"


def test_the_command_line_table_lists_every_irbot_command() -> None:
    table = section(README, "The command line")
    [commands] = [a for a in build_parser()._actions if a.dest == "command"]
    missing = [name for name in commands.choices if f"`irbot {name}" not in table]
    assert not missing and "`irbot --version`" in table, f"the README's command table lacks {missing}"


def test_database_urls_name_the_compose_services() -> None:
    services = set(yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))["services"])
    hosts = set(re.findall(r"postgresql://[^@\s`]*@([a-z0-9.-]+)", README + OPERATIONS)) - {"host", "127.0.0.1"}
    assert hosts <= services, f"the docs name database hosts {hosts - services}; compose has {services}"


def test_no_notes_left_over_from_building_irbot() -> None:
    for name, text in (("README.md", README), ("docs/operations.md", OPERATIONS)):
        for leftover in ("comes with the", "the design", "design.md"):
            assert leftover not in text, f"{name} still says {leftover!r}"
