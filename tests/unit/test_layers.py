"""Imports run one way: nothing imports a layer above its own (a cycle between parts is a defect).

request → listener (``irbot.slack``) → service → unit of work and engine (``irbot.work``) → doors
(``irbot.outbound``); views turn data into Block Kit and text; the store and the pure domain sit
at the bottom. Imports made only for type checking (under ``if TYPE_CHECKING:``) are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import irbot

PACKAGE = Path(irbot.__file__).parent

# Lowest first: a module may import its own layer and every layer before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("domain", ("irbot.domain", "irbot.perf", "irbot.tasks", "irbot.metrics")),
    ("configuration", ("irbot.config", "irbot.config_tracker")),
    ("store", ("irbot.store",)),
    ("doors", ("irbot.outbound",)),
    ("views", ("irbot.views",)),
    ("engine", ("irbot.work", "irbot.deps")),
    ("services", ("irbot.services", "irbot.scheduler", "irbot.heartbeat", "irbot.offline")),
    ("listeners", ("irbot.slack", "irbot.socket_mode")),
    ("application", ("irbot.app", "irbot.cli", "irbot.logs", "irbot.demo", "irbot.__main__", "irbot.fakeslack",
                     "irbot.message_templates", "irbot.status_http", "irbot.demo_status_page", "irbot.demo_declare",
                     "irbot.fakepagerduty", "irbot.faketracker")),
]


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    return rank


def runtime_imports(path: Path) -> set[str]:
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {name for name in found if name.startswith("irbot")}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if "migrations" in parts or parts == ("__init__",):
            continue  # Alembic's own scripts; the package's empty __init__
        found[".".join(("irbot", *parts)).removesuffix(".__init__")] = path
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(name for name in modules() if layer_of(name) < 0)
    assert unplaced == [], "place these in LAYERS"


def test_nothing_imports_a_layer_above_its_own() -> None:
    upward = []
    for name, path in sorted(modules().items()):
        own = layer_of(name)
        for imported in sorted(runtime_imports(path)):
            target = layer_of(imported)
            if imported != "irbot" and target > own:
                upward.append(f"{name} ({LAYERS[own][0]}) imports {imported} ({LAYERS[target][0]})")
    assert upward == [], "\n".join(upward)
