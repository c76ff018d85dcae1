"""The environment the container image gives ``irbot serve``: the ``ENV`` lines of the Dockerfile's
last stage, read from the Dockerfile itself so that a test or bench can never drift from it.

``PORT`` and ``DATABASE_URL`` are left out: a rig sets its own.
"""

from __future__ import annotations

import shlex
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
_THE_RIGS_OWN = ("PORT", "DATABASE_URL")


def image_env(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """``NAME=value`` pairs of every ``ENV`` instruction after the last ``FROM``."""
    env: dict[str, str] = {}
    for instruction in _instructions(dockerfile.read_text(encoding="utf-8")):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() == "FROM":
            env.clear()
        elif keyword.upper() == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return {name: value for name, value in env.items() if name not in _THE_RIGS_OWN}


def _instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, each on one line: comments gone, continuations joined."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        instructions.append(current + stripped)
        current = ""
    return instructions
