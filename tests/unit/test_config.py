from __future__ import annotations

from pathlib import Path

import pytest

from irbot.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "irbot.toml"
    path.write_text(text, encoding="utf-8")
    return {"IRBOT_CONFIG": str(path)}


def test_defaults_need_no_configuration() -> None:
    settings = load_settings({})
    assert settings.announce_channel == "incidents"
    assert [s.key for s in settings.severities] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert settings.slack_api_url == "https://slack.com/api/"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = write(tmp_path, 'announce_channel = "ops"\n')
    assert load_settings(env).announce_channel == "ops"
    env["IRBOT_ANNOUNCE_CHANNEL"] = "war-room"
    assert load_settings(env).announce_channel == "war-room"


def test_api_url_gets_its_trailing_slash() -> None:
    assert load_settings({"SLACK_API_URL": "http://127.0.0.1:9/api"}).slack_api_url == "http://127.0.0.1:9/api/"


def test_severity_entries_inherit_builtin_values(tmp_path: Path) -> None:
    env = write(tmp_path, '[[severities]]\nkey = "SEV-1"\nupdate_every = "2s"\n'
                          '[[severities]]\nkey = "SEV-2"\n')
    settings = load_settings(env)
    assert [s.key for s in settings.severities] == ["SEV-1", "SEV-2"]
    assert settings.severities[0].update_every.calendar().total_seconds() == 2
    assert settings.severities[0].label == "Critical"


def test_roles_can_be_added(tmp_path: Path) -> None:
    env = write(tmp_path, '[[roles]]\nkey = "commander"\n[[roles]]\nkey = "legal"\nname = "Legal"\n'
                          'description = "Regulators and counsel"\n')
    assert [r.key for r in load_settings(env).roles] == ["commander", "legal"]


def test_legal_is_restricted_by_default_and_others_when_marked(tmp_path: Path) -> None:
    env = write(tmp_path, '[[roles]]\nkey = "commander"\n[[roles]]\nkey = "tech_lead"\n'
                          '[[roles]]\nkey = "legal"\nname = "Legal"\ndescription = "Regulators and counsel"\n'
                          '[[roles]]\nkey = "security"\nname = "Security Lead"\ndescription = "Forensics"\n'
                          'restricted = true\n')
    restricted = {r.key: r.restricted for r in load_settings(env).roles}
    assert restricted == {"commander": False, "tech_lead": False, "legal": True, "security": True}
    assert not any(r.restricted for r in load_settings({}).roles)


@pytest.mark.parametrize("text, words", [
    ('[[roles]]\nkey = "commander"\n[[roles]]\nkey = "legal"\nname = "L"\ndescription = "d"\nrestricted = false\n',
     "restricted cannot be false"),
    ('[[roles]]\nkey = "commander"\nrestricted = true\n', "restricted cannot be true"),
    ('[[roles]]\nkey = "commander"\n[[roles]]\nkey = "tech_lead"\nrestricted = "yes"\n', "true or false"),
])
def test_restricted_roles_are_checked_at_start(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(write(tmp_path, text))


@pytest.mark.parametrize("text, words", [
    ('colour = "red"\n', "unknown key 'colour'"),
    ('postmortem_due = "5 weeks"\n', "postmortem_due"),
    ('[[severities]]\nkey = "SEV-9"\nlabel = "x"\n', "description is required"),
    ('[[severities]]\nkey = "SEV-1"\nspeed = 3\n', "unknown key 'speed'"),
    ('timezone = "Mars/Olympus"\n', "timezone"),
    ('admins = "U1"\n', "admins"),
    ('[[roles]]\nkey = "tech_lead"\n', "commander"),
    ("this is not toml", "not valid TOML"),
])
def test_bad_files_name_the_problem(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        load_settings(write(tmp_path, text))


@pytest.mark.parametrize("env, words", [
    ({"IRBOT_CONFIG": "/nonexistent/irbot.toml"}, "no such file"),
    ({"PORT": "eighty"}, "PORT"),
    ({"SLACK_BOT_TOKEN": "abc"}, "xoxb-"),
    ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
])
def test_bad_environment_names_the_variable(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(env)


def test_serve_requires_token_and_secret() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        load_settings({}).require_serve(socket_mode=False)
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}).require_serve(socket_mode=False)


def test_secrets_keep_at_most_their_last_four_characters() -> None:
    from irbot.config import mask_secret
    assert mask_secret("xoxb-1111-2222-abcdefghijkl") == "xoxb-…ijkl"
    assert mask_secret("xapp-1-2") == "xapp-"  # too short to show any of it
    assert mask_secret("0123456789abcdef0123") == "****…0123"
    assert mask_secret("short") == "****" and mask_secret(None) == mask_secret("") == "(unset)"


def test_database_urls_lose_their_password() -> None:
    from irbot.config import url_without_password
    assert url_without_password("postgresql://irbot:s3cret@db:5432/irbot") == "postgresql://irbot:***@db:5432/irbot"
    assert url_without_password("postgresql://irbot@db/irbot?password=s3cret") == "postgresql://irbot@db/irbot?***"
    assert url_without_password("sqlite:////var/lib/irbot/irbot.db") == "sqlite:////var/lib/irbot/irbot.db"
    assert url_without_password("postgresql://u:s3cret@[broken/x") == "****"


def test_settings_in_effect_say_where_each_value_came_from(tmp_path: Path) -> None:
    from irbot.config import settings_in_effect
    env = write(tmp_path, 'channel_prefix = "sev"\nadmins = ["U1", "U2"]\n[alerts]\nseverity_map = {page = "SEV-1"}\n')
    env["PORT"] = "8080"
    shown = {s.name: (s.source, s.value) for s in settings_in_effect(load_settings(env), env)}
    assert shown["channel_prefix"] == ("file", "sev") and shown["admins"] == ("file", "U1, U2")
    assert shown["PORT"] == ("environment", "8080") and shown["timezone"] == ("default", "UTC")
    assert shown["alerts.severity_map"] == ("file", "page → SEV-1")


def test_settings_in_effect_say_when_the_environment_gave_a_sections_secrets(tmp_path: Path) -> None:
    from irbot.config import settings_in_effect
    alone = {"IRBOT_PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef"}
    shown = {s.name: s for s in settings_in_effect(load_settings(alone), alone)}
    assert shown["pagerduty"].source == "environment" and "0123456789abcdef" not in shown["pagerduty"].value
    env = write(tmp_path, '[pagerduty]\npage_on = ["SEV-1"]\n')
    env.update(alone)
    assert {s.name: s.source for s in settings_in_effect(load_settings(env), env)}["pagerduty"] == "file and environment"
    assert {s.name: s.source for s in settings_in_effect(load_settings({}), {})}["pagerduty"] == "default"


def test_alert_limits_default_to_twenty_open_and_five_a_minute(tmp_path: Path) -> None:
    defaults = load_settings({}).alert_limits
    assert (defaults.max_open, defaults.max_new_per_minute) == (20, 5)
    env = write(tmp_path, '[alerts]\nmax_open = 3\nmax_new_per_minute = 1\n[alerts.severity_map]\npage = "SEV-1"\n')
    settings = load_settings(env)
    assert (settings.alert_limits.max_open, settings.alert_limits.max_new_per_minute) == (3, 1)
    assert settings.alert_severity_map == (("page", "SEV-1"),)


@pytest.mark.parametrize("text, words", [
    ("[alerts]\nmax_open = 0\n", "alerts.max_open must be a whole number of at least 1, got 0"),
    ("[alerts]\nmax_open = -5\n", "alerts.max_open"),
    ("[alerts]\nmax_open = 2.5\n", "alerts.max_open"),
    ('[alerts]\nmax_new_per_minute = "5"\n', "alerts.max_new_per_minute"),
    ("[alerts]\nmax_new_per_minute = true\n", "alerts.max_new_per_minute"),
    ("[alerts]\nmax_opne = 3\n", "alerts: unknown key 'max_opne'"),
    ('alerts = "many"\n', "[alerts] must be a table"),
])
def test_bad_alert_limits_name_the_key(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[")):
        load_settings(write(tmp_path, text))
