"""A test that needs Slack's spec files and cannot find them says where to get them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import slack_specs


@pytest.mark.parametrize("name", sorted(slack_specs.SOURCES))
def test_a_missing_spec_file_skips_saying_how_to_get_it(name: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_specs, "FOLDER", tmp_path)
    with pytest.raises(pytest.skip.Exception) as skipped:
        slack_specs.spec_file(name)
    reason = str(skipped.value)
    repository, source = slack_specs.SOURCES[name]
    assert str(tmp_path / name) in reason
    assert f"https://raw.githubusercontent.com/{repository}/HEAD/{source}" in reason and "IRBOT_SLACK_SPECS" in reason
    assert slack_specs.spec_path(name) is None
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("{}", encoding="utf-8")
    assert slack_specs.spec_file(name) == slack_specs.spec_path(name) == tmp_path / name
