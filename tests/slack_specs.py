"""Slack's published spec files, which a few tests check irbot against, and how to get them.

They are not in this repository: the tests look in ``shared/slack-specs`` beside the checkout, or
in the folder named by ``IRBOT_SLACK_SPECS``, and skip, saying where to download each file, when
it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FOLDER = Path(os.environ.get("IRBOT_SLACK_SPECS") or Path(__file__).resolve().parents[2] / "shared" / "slack-specs")

# Each file's place in FOLDER → (GitHub repository, path there): the files are kept byte for byte.
SOURCES = {
    "slack_web_openapi_v2.json": ("slackapi/slack-api-specs", "web-api/slack_web_openapi_v2.json"),
    "manifest-schema/schemas/manifest.schema.1.0.0.json": ("slackapi/manifest-schema",
                                                           "schemas/manifest.schema.1.0.0.json"),
}


def spec_path(name: str) -> Path | None:
    """The file, or None when it is missing (for tests that check more than it)."""
    path = FOLDER / name
    return path if path.is_file() else None


def spec_file(name: str) -> Path:
    """The file, or a skip that says how to get it."""
    path = FOLDER / name
    if not path.is_file():
        repository, source = SOURCES[name]
        pytest.skip(f"needs Slack's {name}, not at {path}: download "
                    f"https://raw.githubusercontent.com/{repository}/HEAD/{source} to that path, "
                    f"or set IRBOT_SLACK_SPECS to a folder that holds {name}")
    return path
