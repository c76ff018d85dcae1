"""[pagerduty] and [[responders]] settings, webhook signatures, dedup keys and responder rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from irbot.config import ConfigError, load_settings
from irbot.fakepagerduty import sign_webhook
from irbot.services.paging import DEFAULT, ESCALATION, dedup_key, signature_ok
from irbot.services.responders import matching
from irbot.store.models import Incident

KEY = "0123456789abcdef0123456789abcdef"


def load(tmp_path: Path, text: str, **env: str):  # noqa: ANN201
    path = tmp_path / "irbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"IRBOT_CONFIG": str(path), **env})


def test_the_section_and_the_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, f'[pagerduty]\nrouting_key = "{KEY}"\n[[pagerduty.services]]\nkey = "Payments"\n'
                              f'routing_key = "{KEY}"\n', IRBOT_PAGERDUTY_WEBHOOK_SECRET="s3cret")
    assert settings.pagerduty.page_on == ("SEV-1", "SEV-2")
    assert settings.pagerduty.webhook_secret == "s3cret"
    assert settings.pagerduty.service("PAYMENTS").name == "Payments"
    assert KEY not in repr(settings) and "s3cret" not in repr(settings), "secrets stay out of reprs and logs"
    only_env = load_settings({"IRBOT_PAGERDUTY_ROUTING_KEY": KEY})
    assert only_env.pagerduty.routing_key == KEY and only_env.pagerduty.escalation_routing_key is None
    assert load_settings({}).pagerduty is None


@pytest.mark.parametrize("text, words", [
    ('[pagerduty]\npage_on = ["SEV-1"]\n', "routing_key is required"),
    (f'[pagerduty]\nrouting_key = "{KEY}"\npage_on = ["SEV-9"]\n', "pagerduty.page_on"),
    (f'[pagerduty]\nrouting_key = "{KEY}"\nsecret = "x"\n', "unknown key 'secret'"),
    (f'[pagerduty]\nrouting_key = "{KEY}"\n[[pagerduty.services]]\nkey = "db"\n', "routing_key is required"),
    ('pagerduty = "yes"\n', "[pagerduty] must be a table"),
    ('[[responders]]\ntypes = ["outage"]\n', "give a usergroup or users"),
    ('[[responders]]\nusers = ["U1"]\ntypes = ["weather"]\n', "responders[0].types"),
])
def test_malformed_settings_stop_with_one_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_serve_without_a_routing_key_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "irbot.toml"
    path.write_text('[pagerduty]\npage_on = ["SEV-1"]\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "irbot", "migrate"], capture_output=True, text=True, timeout=60,
                         env={"IRBOT_CONFIG": str(path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                              "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "routing_key is required" in run.stderr


def test_signatures_one_match_of_several_is_enough() -> None:
    body = b'{"event": {}}'
    assert signature_ok(body, sign_webhook(body, "old", "new"), "new")
    assert signature_ok(body, sign_webhook(body, "new"), "new")
    assert not signature_ok(body, sign_webhook(body, "old"), "new")
    assert not signature_ok(body, "", "new")
    assert not signature_ok(body + b" ", sign_webhook(body, "new"), "new")


def test_dedup_keys() -> None:
    assert dedup_key(12, DEFAULT) == "irbot-INC-12"
    assert dedup_key(12, "payments") == "irbot-INC-12-payments"
    assert dedup_key(12, ESCALATION) == "irbot-INC-12-escalation"


def test_responder_rules_match_each_filter_and_a_raise_only_into_the_rule(tmp_path: Path) -> None:
    settings = load(tmp_path, '[[responders]]\nusers = ["U0A"]\nseverities = ["SEV-1"]\ntypes = ["outage"]\n'
                              '[[responders]]\nusers = ["U0B"]\nservices = ["Postgres"]\n'
                              '[[responders]]\nusergroup = "S0ALL"\n')
    incident = Incident(number=1, title="t", severity="SEV-2", type="outage", services="api, postgres")
    assert [r.users or r.usergroup for r in matching(settings.responders, incident)] == [("U0B",), "S0ALL"]
    incident.severity = "SEV-1"
    raised = matching(settings.responders, incident, previous_severity="SEV-2")
    assert [r.users for r in raised] == [("U0A",)], "only the rule the severity rose into"
    incident.type = "security"
    assert matching(settings.responders, incident, previous_severity="SEV-2") == []
