"""docs/configuration.md stays true to the code: its examples load, and nothing irbot reads is missing.

The reference is written by hand; these checks make a new environment variable or settings key,
or an example that no longer loads, fail here instead of rotting unnoticed.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from irbot import config
from irbot.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
SOURCE = ROOT / "src" / "irbot"
COMPLETE_EXAMPLE_HEADING = "## 4. A complete settings file"

# A fenced TOML block, possibly indented inside a list item.
_TOML_BLOCK = re.compile(r"^(?P<indent> *)```toml\n(?P<body>.*?)^(?P=indent)```$", re.S | re.M)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def reference() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def toml_blocks(text: str) -> list[str]:
    return [textwrap.dedent(match["body"]) for match in _TOML_BLOCK.finditer(text)]


def complete_example() -> str:
    section = reference().split(COMPLETE_EXAMPLE_HEADING, 1)[1].split("\n## ", 1)[0]
    blocks = toml_blocks(section)
    assert len(blocks) == 1, "the complete-example section holds exactly one TOML block"
    return blocks[0]


def load(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "irbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"IRBOT_CONFIG": str(path)})


def _reads_environment(receiver: ast.expr) -> bool:
    """``os.environ``, ``environ`` or a mapping named ``env``: what the code reads variables from."""
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return name in ("environ", "env")


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENV_NAME.match(node.value):
        return node.value
    return None


def environment_variables_read(folder: Path) -> set[str]:
    """Names read as ``env[...]``, ``env.get(...)``, ``os.environ[...]``, ``os.getenv(...)`` or ``... in env``."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            found = None
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                    and _reads_environment(node.value):
                found = _string(node.slice)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr in ("get", "pop") and _reads_environment(node.func.value):
                    found = _string(node.args[0])
                elif node.func.attr == "getenv":
                    found = _string(node.args[0])
            elif isinstance(node, ast.Compare) and len(node.comparators) == 1 and isinstance(node.ops[0], ast.In) \
                    and _reads_environment(node.comparators[0]):
                found = _string(node.left)
            if found:
                names.add(found)
    return names


def test_every_toml_example_loads(tmp_path: Path) -> None:
    blocks = toml_blocks(reference())
    assert len(blocks) >= 10
    for block in blocks:
        try:
            load(tmp_path, block)
        except config.ConfigError as exc:  # name the example that broke, not just the error
            pytest.fail(f"this example in {REFERENCE.name} does not load ({exc}):\n{block}")


def test_the_complete_example_loads_and_uses_every_table_and_key(tmp_path: Path) -> None:
    example = complete_example()
    settings = load(tmp_path, example)
    written = {line.split("=", 1)[0].strip().strip("[]") for line in example.splitlines()
               if re.match(r"^(\[\[?[a-z_]+\]\]?$|[a-z_]+ *=)", line)}
    assert config._TOP_KEYS <= written, f"missing from the complete example: {sorted(config._TOP_KEYS - written)}"
    # What it says it does: inherits built-in values, adds entries, keeps every playbook.
    assert settings.severities[0].label == "Critical" and str(settings.severities[0].update_every) == "20m"
    assert {"legal", "security_lead", "commander"} <= {role.key for role in settings.roles}
    assert settings.regulations[0].name == "GDPR"
    assert len(settings.playbooks) == len(config.DEFAULT_PLAYBOOKS)


def test_the_scan_finds_the_variables_irbot_is_known_to_read() -> None:
    """Guards the scan itself: a scan that found nothing would make the next test pass vacuously."""
    known = {"SLACK_BOT_TOKEN", "DATABASE_URL", "IRBOT_CONFIG", "IRBOT_ALERT_TOKEN"}
    assert known <= environment_variables_read(SOURCE)


def test_every_environment_variable_irbot_reads_is_documented() -> None:
    text = reference()
    missing = sorted(name for name in environment_variables_read(SOURCE) if f"`{name}`" not in text)
    assert not missing, f"{REFERENCE.name} does not mention {', '.join(missing)}"


def test_every_settings_key_is_documented() -> None:
    text = reference()
    keys = (config._TOP_KEYS | config._SEVERITY_KEYS | config._ROLE_KEYS | config._REGULATION_KEYS
            | set(config.WEBHOOK_EVENTS))
    missing = sorted(key for key in keys if f"`{key}`" not in text and f"`[{key}]`" not in text
                     and f"`[[{key}]]`" not in text)
    assert not missing, f"{REFERENCE.name} does not mention {', '.join(missing)}"


def test_no_document_or_docstring_points_outside_the_repository() -> None:
    """The repository stands on its own: no pointer to a design document it does not contain."""
    places = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *SOURCE.rglob("*.py"),
              *(ROOT / "bench").rglob("*.py")]
    pointing = [str(path.relative_to(ROOT)) for path in places
                if re.search(r"design\.md|design doc|the design lists", path.read_text(encoding="utf-8"), re.I)]
    assert not pointing, f"these point at a design document outside the repository: {pointing}"
