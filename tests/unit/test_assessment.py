from __future__ import annotations

from pathlib import Path

import pytest

from irbot.config import ConfigError, load_settings
from irbot.domain.assessment import AssessmentRules, assess

RULES = AssessmentRules()


def levels(business: int, scope: int, users: int, security: int) -> dict[str, int]:
    return {"business": business, "scope": scope, "users": users, "security": security}


@pytest.mark.parametrize("given, score, level", [
    ((4, 4, 3, 2), "3.60", "SEV-1"),
    ((4, 3, 3, 1), "3.20", "SEV-2"),
    ((2, 1, 1, 1), "1.40", "SEV-4"),
    ((1, 1, 1, 4), "1.30", "SEV-1"),  # security override
    ((4, 3, 4, 2), "3.50", "SEV-1"),  # exactly on the SEV-1 threshold
    ((4, 3, 4, 1), "3.40", "SEV-2"),
    ((3, 2, 2, 1), "2.30", "SEV-3"),
    ((2, 2, 3, 3), "2.30", "SEV-3"),  # security 3 does not override
    ((4, 2, 1, 1), "2.50", "SEV-2"),  # exactly on the SEV-2 threshold
    ((1, 2, 2, 2), "1.60", "SEV-3"),
    ((2, 1, 1, 2), "1.50", "SEV-3"),  # exactly on the SEV-3 threshold
])
def test_thresholds_and_override(given: tuple[int, int, int, int], score: str, level: str) -> None:
    result = assess(levels(*given), RULES)
    assert (result.score, result.suggested) == (score, level)


def test_override_is_flagged_only_when_it_changes_the_answer() -> None:
    assert assess(levels(1, 1, 1, 4), RULES).security_override
    assert not assess(levels(4, 4, 4, 4), RULES).security_override


def test_levels_outside_1_to_4_are_refused() -> None:
    with pytest.raises(ValueError):
        assess(levels(0, 1, 1, 1), RULES)


def test_weights_must_sum_to_100(tmp_path: Path) -> None:
    config = tmp_path / "irbot.toml"
    config.write_text("[assessment]\nweights = { business = 50, scope = 30, users = 20, security = 10 }\n")
    with pytest.raises(ConfigError, match="sum to 100"):
        load_settings({"IRBOT_CONFIG": str(config)})
    config.write_text('[assessment]\nweights = { business = 25, scope = 25, users = 25, security = 25 }\n'
                      'thresholds = { "SEV-1" = 3.0, "SEV-2" = 2.0, "SEV-3" = 1.25 }\n')
    rules = load_settings({"IRBOT_CONFIG": str(config)}).assessment
    assert assess(levels(3, 3, 3, 3), rules).suggested == "SEV-1"
    assert assess(levels(2, 1, 1, 1), rules).suggested == "SEV-3"


def test_playbooks_replace_the_builtin_list(tmp_path: Path) -> None:
    config = tmp_path / "irbot.toml"
    config.write_text('[[playbooks]]\ntype = "outage"\nsteps = ["Page the DBA", "Fail over"]\n')
    settings = load_settings({"IRBOT_CONFIG": str(config)})
    assert [p.type for p in settings.playbooks] == ["outage"]
    config.write_text('[[playbooks]]\ntype = "outage"\nsteps = []\n')
    with pytest.raises(ConfigError, match="playbooks"):
        load_settings({"IRBOT_CONFIG": str(config)})
