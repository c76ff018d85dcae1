"""Logging for the ``irbot`` command: level and format from the environment, library chatter left out.

``IRBOT_LOG_LEVEL``: debug, info, warning or error (default: info for ``serve``, warning for the
other commands). ``IRBOT_LOG_FORMAT``: ``text`` (the default) or ``json``, one object a line with
``time``, ``level``, ``logger``, ``message`` (and ``exception`` when there is one), for log
collectors. A bad value is a configuration error, like any other.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Mapping

from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from irbot.config import ConfigError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Libraries that tell at INFO what only a developer wants to read: Alembic's plugin set-up and
# dialect notes, APScheduler's every job added, run and finished. Their warnings still show; at
# IRBOT_LOG_LEVEL=debug everything does. Alembic's "Running upgrade" lines say the schema changed,
# which an operator wants to know: they stay.
_CHATTY = ("alembic.runtime.plugins", "apscheduler")
_ALEMBIC_KEPT = ("Running upgrade", "Running downgrade")


@dataclass(frozen=True)
class LogOptions:
    level: int
    json: bool


def log_options(env: Mapping[str, str], *, default_level: int) -> LogOptions:
    """Read ``IRBOT_LOG_LEVEL`` and ``IRBOT_LOG_FORMAT``; a bad value is a ConfigError naming it."""
    level_name = env.get("IRBOT_LOG_LEVEL", "").strip().lower()
    if level_name and level_name not in LEVELS:
        raise ConfigError(f"IRBOT_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {env['IRBOT_LOG_LEVEL']!r}")
    format_name = env.get("IRBOT_LOG_FORMAT", "").strip().lower() or "text"
    if format_name not in FORMATS:
        raise ConfigError(f"IRBOT_LOG_FORMAT must be text or json, got {env['IRBOT_LOG_FORMAT']!r}")
    return LogOptions(level=LEVELS[level_name] if level_name else default_level, json=format_name == "json")


def configure(options: LogOptions, stream: IO[str] | None = None) -> None:
    """Send every log record to ``stream`` (standard error) in the chosen format, from the chosen level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if options.json else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=options.level, handlers=[handler], force=True)
    if options.level > logging.DEBUG:
        _quiet_libraries()


def _quiet_libraries() -> None:
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_schema_changes)
    # Bolt warns that the token it read from SLACK_BOT_TOKEN is unused because irbot hands it a
    # client (built with that very token): true and harmless, and it cannot be told not to read it.
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_not_bolt_token_unused)


def _only_schema_changes(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or str(record.msg).startswith(_ALEMBIC_KEPT)


def _not_bolt_token_unused(record: logging.LogRecord) -> bool:
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


class JsonFormatter(logging.Formatter):
    """One JSON object a line. The standard library's logging with this small formatter, rather
    than a structured-logging library: irbot logs plain messages, so a library would add a
    dependency to every install for what these lines do."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
