"""Configuration: environment variables and the optional TOML settings file named by ``IRBOT_CONFIG``.

docs/configuration.md is the reference for every variable and key; tests/unit/test_config_docs.py keeps
it in step with what this module reads and accepts.

Everything is validated when the settings are built, so a bad value stops irbot at start with
one line naming the key, never later in the middle of an incident.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from irbot.domain.alerts import AlertLimits
from irbot.domain.assessment import FACTORS, AssessmentRules
from irbot.domain.clocks import DEFAULT_REGULATIONS, Regulation
from irbot.domain.durations import Duration, DurationError, parse_duration
from irbot.domain.playbooks import DEFAULT_PLAYBOOKS, Playbook
from irbot.domain.roles import COMMANDER, DEFAULT_ROLES, ROLES_WITH_POWERS, Role
from irbot.domain.severities import DEFAULT_SEVERITIES, Severity
from irbot.domain.status_page import Component, StatusPageSettings, safe_link
from irbot.config_tracker import TrackerProblem, TrackerSettings, parse_tracker, tracker_from_env


class ConfigError(ValueError):
    """Bad or missing configuration; the message is the one line printed to stderr."""


DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_API_URL
    database_url: str = "sqlite:///irbot.db"
    port: int = 3000
    announce_channel: str = "incidents"
    templates_dir: Path | None = None
    alert_token: str | None = None
    timezone: str = "UTC"
    admins: tuple[str, ...] = ()
    keep_deleted_text: bool = False
    channel_prefix: str = "inc"
    postmortem_due: Duration = field(default_factory=lambda: parse_duration("5bd"))
    escalation_usergroup: str | None = None
    severities: tuple[Severity, ...] = DEFAULT_SEVERITIES
    roles: tuple[Role, ...] = DEFAULT_ROLES
    assessment: AssessmentRules = field(default_factory=AssessmentRules)
    playbooks: tuple[Playbook, ...] = DEFAULT_PLAYBOOKS
    regulations: tuple[Regulation, ...] = DEFAULT_REGULATIONS
    webhooks: tuple[Webhook, ...] = ()
    alert_severity_map: tuple[tuple[str, str], ...] = (("critical", "SEV-1"), ("error", "SEV-2"),
                                                       ("warning", "SEV-3"), ("info", "SEV-4"))
    alert_limits: AlertLimits = field(default_factory=AlertLimits)
    status_page: StatusPageSettings | None = None  # [status_page]; None: the /status routes answer 404
    pagerduty: PagerDuty | None = None
    responders: tuple[Responders, ...] = ()
    tracker: TrackerSettings | None = None  # [tracker]: action items become GitHub or Jira issues

    def severity(self, key: str) -> Severity:
        for severity in self.severities:
            if severity.key == key:
                return severity
        return self.severities[-1]

    def role(self, key: str) -> Role | None:
        return next((r for r in self.roles if r.key == key), None)

    def require_serve(self, *, socket_mode: bool) -> None:
        """``serve`` needs a token, and a signing secret in HTTP mode."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is required to serve (a bot token starting with xoxb-)")
        if socket_mode and not self.slack_app_token:
            raise ConfigError("Socket Mode needs SLACK_APP_TOKEN (an app-level token starting with xapp-)")
        if not socket_mode and not self.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode")


_TOP_KEYS = {
    "announce_channel", "timezone", "admins", "keep_deleted_text", "channel_prefix",
    "postmortem_due", "escalation_usergroup", "severities", "roles", "assessment", "playbooks", "regulations",
    "webhooks", "alerts", "status_page", "pagerduty", "responders", "tracker",
}
WEBHOOK_EVENTS = ("declared", "severity_changed", "status_changed", "role_changed", "resolved")


@dataclass(frozen=True)
class Webhook:
    url: str
    events: tuple[str, ...]
    secret: str
_REGULATION_KEYS = {"key", "name", "notify_within", "notify_whom"}
_SEVERITY_KEYS = {"key", "label", "description", "update_every", "respond_within", "stakeholder_every"}
_ROLE_KEYS = {"key", "name", "description", "restricted"}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment and the file named by ``IRBOT_CONFIG``."""
    env = os.environ if env is None else env
    settings = Settings()
    if env.get("IRBOT_CONFIG"):
        settings = _apply_file(settings, _read_toml(Path(env["IRBOT_CONFIG"])))
    return _apply_env(settings, env)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"IRBOT_CONFIG: no such file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"IRBOT_CONFIG: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"IRBOT_CONFIG: {path} is not valid TOML: {exc}") from None


def _apply_file(settings: Settings, data: dict[str, Any]) -> Settings:
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"settings file: unknown key {unknown[0]!r}")
    changes: dict[str, Any] = {}
    for key in ("announce_channel", "channel_prefix", "escalation_usergroup"):
        if key in data:
            changes[key] = _string(key, data[key])
    if "timezone" in data:
        changes["timezone"] = _timezone(data["timezone"])
    if "admins" in data:
        admins = data["admins"]
        if not isinstance(admins, list) or not all(isinstance(a, str) and a for a in admins):
            raise ConfigError("settings file: admins must be a list of Slack user IDs")
        changes["admins"] = tuple(admins)
    if "keep_deleted_text" in data:
        if not isinstance(data["keep_deleted_text"], bool):
            raise ConfigError("settings file: keep_deleted_text must be true or false")
        changes["keep_deleted_text"] = data["keep_deleted_text"]
    if "postmortem_due" in data:
        changes["postmortem_due"] = _duration("postmortem_due", data["postmortem_due"])
    if "severities" in data:
        changes["severities"] = _severities(data["severities"])
    if "roles" in data:
        changes["roles"] = _roles(data["roles"])
    if "assessment" in data:
        changes["assessment"] = _assessment(data["assessment"], changes.get("severities", settings.severities))
    if "playbooks" in data:
        changes["playbooks"] = _playbooks(data["playbooks"])
    if "regulations" in data:
        changes["regulations"] = _regulations(data["regulations"])
    if "webhooks" in data:
        changes["webhooks"] = _webhooks(data["webhooks"])
    if "alerts" in data:
        changes["alert_severity_map"], changes["alert_limits"] = _alerts(
            data["alerts"], changes.get("severities", settings.severities))
    if "status_page" in data:
        changes["status_page"] = _status_page(data["status_page"])
    if "pagerduty" in data:
        changes["pagerduty"] = _pagerduty(data["pagerduty"], changes.get("severities", settings.severities))
    if "responders" in data:
        changes["responders"] = _responders(data["responders"], changes.get("severities", settings.severities))
    if "tracker" in data:
        changes["tracker"] = _tracker(lambda: parse_tracker(data["tracker"]))
    return replace(settings, **changes)


def _apply_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    changes: dict[str, Any] = {
        "slack_bot_token": env.get("SLACK_BOT_TOKEN") or None,
        "slack_signing_secret": env.get("SLACK_SIGNING_SECRET") or None,
        "slack_app_token": env.get("SLACK_APP_TOKEN") or None,
        "alert_token": env.get("IRBOT_ALERT_TOKEN") or None,
    }
    if env.get("SLACK_API_URL"):
        changes["slack_api_url"] = normalise_api_url(env["SLACK_API_URL"])
    if env.get("DATABASE_URL"):
        changes["database_url"] = env["DATABASE_URL"]
    if env.get("PORT"):
        changes["port"] = _port(env["PORT"])
    if env.get("IRBOT_ANNOUNCE_CHANNEL"):
        changes["announce_channel"] = env["IRBOT_ANNOUNCE_CHANNEL"]
    if env.get("IRBOT_TEMPLATES"):
        folder = Path(env["IRBOT_TEMPLATES"])
        if not folder.is_dir():
            raise ConfigError(f"IRBOT_TEMPLATES: {folder} is not a folder")
        changes["templates_dir"] = folder
    settings = _pagerduty_env(settings, env)
    changes["tracker"] = _tracker(lambda: tracker_from_env(settings.tracker, env))
    for name, prefix in (("slack_bot_token", "xoxb-"), ("slack_app_token", "xapp-")):
        value = changes[name]
        if value and not value.startswith(prefix):
            raise ConfigError(f"{name.upper()} must start with {prefix}")
    return replace(settings, **changes)


def normalise_api_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"PORT must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"settings file: {key} must be a non-empty string")
    return value.strip()


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(_string("timezone", value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"settings file: timezone {value!r} is not a known time zone") from None
    return value


def _duration(key: str, value: Any) -> Duration:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ConfigError(f"settings file: {key}: {exc}") from None


def _entries(section: str, value: Any, allowed: set[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"settings file: [[{section}]] must be a non-empty list of tables")
    keys = set()
    for index, entry in enumerate(value):
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ConfigError(f"settings file: {section}[{index}]: unknown key {unknown[0]!r}")
        if not isinstance(entry.get("key"), str) or not entry["key"].strip():
            raise ConfigError(f"settings file: {section}[{index}]: key is required")
        if entry["key"] in keys:
            raise ConfigError(f"settings file: {section}: key {entry['key']!r} is listed twice")
        keys.add(entry["key"])
    return value


def _merged(section: str, index: int, entry: dict[str, Any], builtin: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A built-in entry lends the values a same-keyed entry leaves out; a new entry gives all."""
    merged = {name: getattr(builtin, name) for name in fields} if builtin else {}
    merged.update(entry)
    missing = [name for name in fields if name not in merged]
    if missing:
        raise ConfigError(f"settings file: {section}[{index}] ({entry['key']}): {missing[0]} is required")
    return merged


def _severities(value: Any) -> tuple[Severity, ...]:
    builtins = {s.key: s for s in DEFAULT_SEVERITIES}
    result = []
    for index, entry in enumerate(_entries("severities", value, _SEVERITY_KEYS)):
        merged = _merged("severities", index, entry, builtins.get(entry["key"]),
                         ("label", "description", "update_every", "respond_within", "stakeholder_every"))
        for name in ("update_every", "respond_within", "stakeholder_every"):
            if not isinstance(merged[name], Duration):
                merged[name] = _duration(f"severities[{index}].{name}", merged[name])
        for name in ("label", "description"):
            merged[name] = _string(f"severities[{index}].{name}", merged[name])
        result.append(Severity(**merged))
    return tuple(result)


def _roles(value: Any) -> tuple[Role, ...]:
    builtins = {r.key: r for r in DEFAULT_ROLES}
    result = []
    for index, entry in enumerate(_entries("roles", value, _ROLE_KEYS)):
        merged = _merged("roles", index, entry, builtins.get(entry["key"]), ("name", "description"))
        result.append(Role(key=merged["key"], name=_string(f"roles[{index}].name", merged["name"]),
                           description=_string(f"roles[{index}].description", merged["description"]),
                           restricted=_restricted(index, entry)))
    if not any(r.key == COMMANDER for r in result):
        raise ConfigError("settings file: [[roles]] must keep the commander role")
    return tuple(result)


def _restricted(index: int, entry: dict[str, Any]) -> bool:
    """Roles with powers are restricted whatever the file says; the commander never is (anyone in the
    channel may take an empty commander seat: that is how responders take command)."""
    key = entry["key"]
    value = entry.get("restricted", key in ROLES_WITH_POWERS)
    if not isinstance(value, bool):
        raise ConfigError(f"settings file: roles[{index}].restricted must be true or false")
    if key in ROLES_WITH_POWERS and not value:
        raise ConfigError(f"settings file: roles[{index}] ({key}): restricted cannot be false, the role carries "
                          "powers (marking notifications done, legal hold)")
    if key == COMMANDER and value:
        raise ConfigError(f"settings file: roles[{index}] (commander): restricted cannot be true, responders take "
                          "command by taking the empty commander role")
    return value


def _assessment(value: Any, severities: tuple[Severity, ...]) -> AssessmentRules:
    if not isinstance(value, dict):
        raise ConfigError("settings file: [assessment] must be a table")
    unknown = sorted(set(value) - {"weights", "thresholds"})
    if unknown:
        raise ConfigError(f"settings file: assessment: unknown key {unknown[0]!r}")
    rules = AssessmentRules()
    weights = value.get("weights", rules.weights)
    if not isinstance(weights, dict) or not all(isinstance(w, int) and not isinstance(w, bool)
                                                for w in weights.values()):
        raise ConfigError(f"settings file: assessment.weights must give whole percents for {', '.join(FACTORS)}")
    thresholds = rules.thresholds
    if "thresholds" in value:
        thresholds = _thresholds(value["thresholds"], {s.key for s in severities})
    rules = AssessmentRules(weights=dict(weights), thresholds=thresholds, fallback=severities[-1].key,
                            security_override=severities[0].key)
    problems = rules.problems()
    if problems:
        raise ConfigError(f"settings file: assessment: {problems[0]}")
    return rules


def _thresholds(value: Any, keys: set[str]) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict) or not value:
        raise ConfigError('settings file: assessment.thresholds must map levels to scores, e.g. "SEV-1" = 3.5')
    result = []
    for key, score in value.items():
        if key not in keys:
            raise ConfigError(f"settings file: assessment.thresholds: {key!r} is not a configured severity")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not 1 <= score <= 4:
            raise ConfigError(f"settings file: assessment.thresholds.{key} must be a score from 1 to 4")
        result.append((key, round(score * 100)))
    return tuple(sorted(result, key=lambda item: -item[1]))


def _playbooks(value: Any) -> tuple[Playbook, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError("settings file: [[playbooks]] must be a list of tables")
    result = []
    for index, entry in enumerate(value):
        unknown = sorted(set(entry) - {"type", "steps"})
        if unknown:
            raise ConfigError(f"settings file: playbooks[{index}]: unknown key {unknown[0]!r}")
        steps = entry.get("steps")
        if not isinstance(entry.get("type"), str) or not isinstance(steps, list) or not steps or not all(
                isinstance(step, str) and step.strip() for step in steps):
            raise ConfigError(f"settings file: playbooks[{index}] needs a type and a non-empty list of steps")
        if len(steps) > 20:
            raise ConfigError(f"settings file: playbooks[{index}]: at most 20 steps")
        result.append(Playbook(type=entry["type"], steps=tuple(s.strip() for s in steps)))
    return tuple(result)


def _regulations(value: Any) -> tuple[Regulation, ...]:
    builtins = {r.key: r for r in DEFAULT_REGULATIONS}
    result = []
    for index, entry in enumerate(_entries("regulations", value, _REGULATION_KEYS)):
        merged = _merged("regulations", index, entry, builtins.get(entry["key"]),
                         ("name", "notify_within", "notify_whom"))
        within = merged["notify_within"]
        if not isinstance(within, Duration):
            within = _duration(f"regulations[{index}].notify_within", within)
        result.append(Regulation(key=merged["key"].strip().lower(),
                                 name=_string(f"regulations[{index}].name", merged["name"]),
                                 notify_within=within,
                                 notify_whom=_string(f"regulations[{index}].notify_whom", merged["notify_whom"])))
    return tuple(result)


def _webhooks(value: Any) -> tuple[Webhook, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError("settings file: [[webhooks]] must be a list of tables")
    result = []
    for index, entry in enumerate(value):
        unknown = sorted(set(entry) - {"url", "events", "secret"})
        if unknown:
            raise ConfigError(f"settings file: webhooks[{index}]: unknown key {unknown[0]!r}")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"settings file: webhooks[{index}].url must be an http(s) URL")
        events = entry.get("events", list(WEBHOOK_EVENTS))
        if not isinstance(events, list) or not events or any(e not in WEBHOOK_EVENTS for e in events):
            raise ConfigError(f"settings file: webhooks[{index}].events must list some of {', '.join(WEBHOOK_EVENTS)}")
        secret = entry.get("secret")
        if not isinstance(secret, str) or not secret:
            raise ConfigError(f"settings file: webhooks[{index}].secret is required (it signs each delivery)")
        result.append(Webhook(url=url, events=tuple(events), secret=secret))
    return tuple(result)


_ALERT_KEYS = ("severity_map", "max_open", "max_new_per_minute")


def _alerts(value: Any, severities: tuple[Severity, ...]) -> tuple[tuple[tuple[str, str], ...], AlertLimits]:
    if not isinstance(value, dict):
        raise ConfigError(f"settings file: [alerts] must be a table of {', '.join(_ALERT_KEYS)}")
    unknown = sorted(set(value) - set(_ALERT_KEYS))
    if unknown:
        raise ConfigError(f"settings file: alerts: unknown key {unknown[0]!r} (known: {', '.join(_ALERT_KEYS)})")
    mapping = value.get("severity_map", {})
    keys = {s.key for s in severities}
    if not isinstance(mapping, dict) or any(not isinstance(v, str) or v not in keys for v in mapping.values()):
        raise ConfigError("settings file: alerts.severity_map must map label values to configured severities")
    defaults = AlertLimits()
    limits = AlertLimits(
        max_open=_positive("alerts.max_open", value.get("max_open", defaults.max_open)),
        max_new_per_minute=_positive("alerts.max_new_per_minute",
                                     value.get("max_new_per_minute", defaults.max_new_per_minute)))
    return tuple((str(k).lower(), v) for k, v in mapping.items()), limits


def _positive(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"settings file: {key} must be a whole number of at least 1, got {value!r}")
    return value



_STATUS_PAGE_KEYS = ("title", "public_url", "components")


def _status_page(value: Any) -> StatusPageSettings:
    if not isinstance(value, dict):
        raise ConfigError(f"settings file: [status_page] must be a table of {', '.join(_STATUS_PAGE_KEYS)}")
    unknown = sorted(set(value) - set(_STATUS_PAGE_KEYS))
    if unknown:
        raise ConfigError(f"settings file: status_page: unknown key {unknown[0]!r} "
                          f"(known: {', '.join(_STATUS_PAGE_KEYS)})")
    title = value.get("title", "Status")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("settings file: status_page.title must be a non-empty string")
    public_url = value.get("public_url", "")
    if not isinstance(public_url, str):
        raise ConfigError("settings file: status_page.public_url must be a string")
    if public_url and (safe_link(public_url) is None or any(c in public_url for c in "\"'<> ")):
        raise ConfigError(f"settings file: status_page.public_url must be an http(s) URL, got {public_url!r}")
    entries = value.get("components", [])
    if not isinstance(entries, list):
        raise ConfigError("settings file: status_page.components must be a list of tables with key and name")
    components: list[Component] = []
    for index, entry in enumerate(entries):
        where = f"status_page.components[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"key", "name"}:
            raise ConfigError(f"settings file: {where} must have exactly key and name")
        key, name = entry["key"], entry["name"]
        if not isinstance(key, str) or not key.strip() or not isinstance(name, str) or not name.strip():
            raise ConfigError(f"settings file: {where}: key and name must be non-empty strings")
        if len(key) > 75 or len(name) > 75:
            raise ConfigError(f"settings file: {where}: key and name must be at most 75 characters")
        if any(c.key == key for c in components):
            raise ConfigError(f"settings file: {where}: the key {key!r} is listed twice")
        components.append(Component(key=key.strip(), name=name.strip()))
    if len(components) > 100:
        raise ConfigError("settings file: status_page.components: at most 100 components")
    return StatusPageSettings(title=title.strip(), public_url=public_url.rstrip("/"), components=tuple(components))


# --- what `irbot config` shows ---------------------------------------------------------------------------

# The environment variable behind a setting, where there is one; the others come from the file only.
ENV_NAMES = {"slack_bot_token": "SLACK_BOT_TOKEN", "slack_signing_secret": "SLACK_SIGNING_SECRET",
             "slack_app_token": "SLACK_APP_TOKEN", "slack_api_url": "SLACK_API_URL", "database_url": "DATABASE_URL",
             "port": "PORT", "announce_channel": "IRBOT_ANNOUNCE_CHANNEL", "templates_dir": "IRBOT_TEMPLATES",
             "alert_token": "IRBOT_ALERT_TOKEN"}
# Settings-file names of the fields named otherwise in Settings.
FILE_NAMES = {"alert_severity_map": "alerts.severity_map"}
# Sections whose secrets the environment gives or overrides (IRBOT_PAGERDUTY_ROUTING_KEY alone turns paging on).
SECRETS_FROM_ENV = {"pagerduty": ("IRBOT_PAGERDUTY_ROUTING_KEY", "IRBOT_PAGERDUTY_WEBHOOK_SECRET"),
                    "tracker": ("IRBOT_TRACKER_TOKEN", "IRBOT_TRACKER_WEBHOOK_SECRET")}
_SECRET_WORDS = ("token", "secret", "password")
_TOKEN_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "xoxe-")


@dataclass(frozen=True)
class ShownSetting:
    name: str    # as the operator writes it: the environment variable, else the settings-file key
    value: str   # secrets masked
    source: str  # "environment", "file" or "default"


def settings_in_effect(settings: Settings, env: Mapping[str, str] | None = None) -> list[ShownSetting]:
    """Every setting, where its value came from, with secrets masked: what ``irbot config`` prints."""
    env = os.environ if env is None else env
    in_file = set(_read_toml(Path(env["IRBOT_CONFIG"]))) if env.get("IRBOT_CONFIG") else set()
    shown = []
    for name in (f.name for f in fields(Settings)):
        env_name, file_name = ENV_NAMES.get(name), FILE_NAMES.get(name, name)
        value = getattr(settings, name)
        secrets_from_env = value is not None and any(env.get(v) for v in SECRETS_FROM_ENV.get(name, ()))
        if env_name and env.get(env_name):
            source = "environment"
        elif file_name.split(".")[0] in in_file:
            source = "file and environment" if secrets_from_env else "file"
        else:
            source = "environment" if secrets_from_env else "default"
        shown.append(ShownSetting(env_name or file_name, _shown(name, value), source))
    return shown


def mask_secret(value: str | None) -> str:
    """A token as ``xoxb-…abcd``: enough to tell which one is loaded, never enough to use it."""
    if not value:
        return "(unset)"
    prefix = next((p for p in _TOKEN_PREFIXES if value.startswith(p)), "****")
    if len(value) < 16:  # the last four of a short secret are too much of it
        return prefix if prefix != "****" else "****"
    return f"{prefix}…{value[-4:]}"


def url_without_password(url: str) -> str:
    """A URL with its password (and any query that names one) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL: it cannot be shown without perhaps showing a password
        return "****"
    shown = url  # edited in place: urlunsplit would turn sqlite:////abs into sqlite://abs
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        shown = shown.replace(parts.netloc, f"{user.partition(':')[0]}:***@{host}", 1)
    if "password" in parts.query.lower():
        shown = shown.replace("?" + parts.query, "?***", 1)
    return shown


def _shown(name: str, value: Any) -> str:
    if name == "database_url":
        return url_without_password(value)
    if any(word in name for word in _SECRET_WORDS):
        return mask_secret(value)
    if name == "alert_severity_map":
        return ", ".join(f"{label} → {severity}" for label, severity in value) or "(none)"
    return _text(value)


def _text(value: Any) -> str:
    """A value as the settings file would spell it. Unknown kinds show only their type: they may hold secrets."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, Path, Duration)):
        return str(value) if str(value) else '""'
    if isinstance(value, (tuple, list)):
        return ", ".join(_text(v) for v in value) or "(none)"
    if isinstance(value, Webhook):  # its URL may carry a secret in its path or query: only the host
        return f"{urlsplit(value.url).scheme}://{urlsplit(value.url).hostname}/… ({' '.join(value.events)})"
    if isinstance(value, AssessmentRules):
        weights = " ".join(f"{factor} {percent}%" for factor, percent in value.weights.items())
        thresholds = " ".join(f"{level}≥{score / 100:g}" for level, score in value.thresholds)
        return f"{weights}; {thresholds}"
    if isinstance(value, Playbook):
        return f"{value.type} ({len(value.steps)} steps)"
    if isinstance(value, StatusPageSettings):
        return f"{value.title} ({len(value.components)} components)"
    if isinstance(value, PagerDuty):  # routing keys and the webhook secret are never shown
        return (f"{urlsplit(value.events_url).hostname}; page_on {' '.join(value.page_on)}; "
                f"escalation {'on' if value.escalation_routing_key else 'off'}; "
                f"webhook {'on' if value.webhook_secret else 'off'}; services {' '.join(s.key for s in value.services) or '(none)'}")
    if isinstance(value, Responders):
        return " + ".join(filter(None, [value.usergroup, " ".join(value.users)]))
    if hasattr(value, "key"):
        return str(value.key)
    return f"({type(value).__name__})"


# --- paging: [pagerduty] and [[responders]] -------------------------------------------------------------

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_PAGERDUTY_KEYS = {"events_url", "routing_key", "page_on", "escalation_routing_key", "webhook_secret", "services"}
_PAGER_SERVICE_KEYS = {"key", "name", "routing_key"}
_RESPONDER_KEYS = {"usergroup", "users", "types", "severities", "services"}
INCIDENT_TYPES = ("security", "outage", "performance", "data", "third-party", "operational")


@dataclass(frozen=True)
class PagerService:
    key: str
    name: str
    routing_key: str = field(repr=False)


@dataclass(frozen=True)
class PagerDuty:
    """The paging door's settings. ``routing_key`` is the default on-call service's integration key."""

    routing_key: str = field(repr=False)
    events_url: str = DEFAULT_EVENTS_URL
    page_on: tuple[str, ...] = ("SEV-1", "SEV-2")
    escalation_routing_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    services: tuple[PagerService, ...] = ()

    def service(self, key: str) -> PagerService | None:
        return next((s for s in self.services if s.key == key.lower()), None)


@dataclass(frozen=True)
class Responders:
    """People invited to matching incidents; an empty filter matches any incident."""

    usergroup: str | None = None
    users: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


def _pagerduty(value: Any, severities: tuple[Severity, ...]) -> PagerDuty:
    """Parsed from the file; the routing key may still come from the environment (checked then)."""
    if not isinstance(value, dict):
        raise ConfigError("settings file: [pagerduty] must be a table")
    unknown = sorted(set(value) - _PAGERDUTY_KEYS)
    if unknown:
        raise ConfigError(f"settings file: pagerduty: unknown key {unknown[0]!r}")
    url = value.get("events_url", DEFAULT_EVENTS_URL)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError("settings file: pagerduty.events_url must be an http(s) URL")
    page_on = value.get("page_on", ["SEV-1", "SEV-2"])
    known = {s.key for s in severities}
    if not isinstance(page_on, list) or any(not isinstance(k, str) or k not in known for k in page_on):
        raise ConfigError(f"settings file: pagerduty.page_on must list configured severities ({', '.join(sorted(known))})")
    secrets = {}
    for key in ("routing_key", "escalation_routing_key", "webhook_secret"):
        if key in value:
            secrets[key] = _string(f"pagerduty.{key}", value[key])
    services = value.get("services", [])
    if services:
        services = _entries("pagerduty.services", services, _PAGER_SERVICE_KEYS)
    parsed = []
    for index, entry in enumerate(services):
        if not isinstance(entry.get("routing_key"), str) or not entry["routing_key"].strip():
            raise ConfigError(f"settings file: pagerduty.services[{index}] ({entry['key']}): routing_key is required")
        if not all(ch.isalnum() or ch in "-_" for ch in entry["key"]):
            raise ConfigError(f"settings file: pagerduty.services[{index}]: key must be letters, digits, - or _")
        name = entry.get("name", entry["key"])
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"settings file: pagerduty.services[{index}] ({entry['key']}): name must be text")
        parsed.append(PagerService(entry["key"].lower(), name.strip(), entry["routing_key"].strip()))
    return PagerDuty(routing_key=secrets.get("routing_key", ""), events_url=url, page_on=tuple(page_on),
                     escalation_routing_key=secrets.get("escalation_routing_key"),
                     webhook_secret=secrets.get("webhook_secret"), services=tuple(parsed))


def _pagerduty_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """IRBOT_PAGERDUTY_ROUTING_KEY (alone, it turns paging on with the defaults) and
    IRBOT_PAGERDUTY_WEBHOOK_SECRET win over the file; a [pagerduty] section needs a routing key."""
    pagerduty = settings.pagerduty
    routing_key = env.get("IRBOT_PAGERDUTY_ROUTING_KEY") or None
    webhook_secret = env.get("IRBOT_PAGERDUTY_WEBHOOK_SECRET") or None
    if pagerduty is None and routing_key:
        pagerduty = PagerDuty(routing_key=routing_key)
    if pagerduty is None:
        if webhook_secret:
            raise ConfigError("IRBOT_PAGERDUTY_WEBHOOK_SECRET is set but paging is off: "
                              "set IRBOT_PAGERDUTY_ROUTING_KEY or add a [pagerduty] section")
        return settings
    if routing_key:
        pagerduty = replace(pagerduty, routing_key=routing_key)
    if webhook_secret:
        pagerduty = replace(pagerduty, webhook_secret=webhook_secret)
    if not pagerduty.routing_key:
        raise ConfigError("pagerduty: routing_key is required (the settings file's pagerduty.routing_key "
                          "or IRBOT_PAGERDUTY_ROUTING_KEY)")
    return replace(settings, pagerduty=pagerduty)


def _responders(value: Any, severities: tuple[Severity, ...]) -> tuple[Responders, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError("settings file: [[responders]] must be a list of tables")
    known = {s.key for s in severities}
    result = []
    for index, entry in enumerate(value):
        where = f"settings file: responders[{index}]"
        unknown = sorted(set(entry) - _RESPONDER_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
        group = entry.get("usergroup")
        if group is not None and (not isinstance(group, str) or not group.startswith("S")):
            raise ConfigError(f"{where}.usergroup must be a user group ID (S…)")
        users = _words(f"{where}.users", entry.get("users", []))
        if any(not u.startswith(("U", "W")) for u in users):
            raise ConfigError(f"{where}.users must list Slack user IDs (U…)")
        if not group and not users:
            raise ConfigError(f"{where}: give a usergroup or users")
        types = tuple(t.lower() for t in _words(f"{where}.types", entry.get("types", [])))
        if any(t not in INCIDENT_TYPES for t in types):
            raise ConfigError(f"{where}.types must list some of {', '.join(INCIDENT_TYPES)}")
        levels = _words(f"{where}.severities", entry.get("severities", []))
        if any(s not in known for s in levels):
            raise ConfigError(f"{where}.severities must list configured severities ({', '.join(sorted(known))})")
        result.append(Responders(usergroup=group, users=users, types=types, severities=levels,
                                 services=tuple(s.lower() for s in _words(f"{where}.services",
                                                                          entry.get("services", [])))))
    return tuple(result)


def _words(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key} must be a list of strings")
    return tuple(v.strip() for v in value)


def _tracker(parse: Any) -> TrackerSettings | None:
    """``[tracker]`` is checked in ``config_tracker``; its problem becomes the one line at start."""
    try:
        result: TrackerSettings | None = parse()
    except TrackerProblem as exc:
        raise ConfigError(f"settings file: {exc}" if str(exc).startswith(("tracker", "[tracker")) else str(exc)) from None
    return result
