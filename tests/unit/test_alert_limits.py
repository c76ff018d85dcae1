"""Where a new alert group goes (own incident or the storm), and what a group's seen set takes."""

from __future__ import annotations

import pytest

from irbot.domain.alerts import OWN_INCIDENT, STORM, AlertLimits, new_alerts, route_new_group

LIMITS = AlertLimits(max_open=3, max_new_per_minute=2)


@pytest.mark.parametrize("open_from_alerts, declared_last_minute, to, reason", [
    (0, 0, OWN_INCIDENT, ""),
    (2, 1, OWN_INCIDENT, ""),
    (3, 0, STORM, "max_open"),
    (7, 5, STORM, "max_open"),  # over the cap already (the cap was lowered): still the storm
    (1, 2, STORM, "max_new_per_minute"),
])
def test_a_new_group_opens_an_incident_only_under_the_cap_and_the_rate(
        open_from_alerts: int, declared_last_minute: int, to: str, reason: str) -> None:
    route = route_new_group(open_from_alerts=open_from_alerts, declared_last_minute=declared_last_minute,
                            limits=LIMITS)
    assert (route.to, route.reason) == (to, reason)


def test_the_defaults_are_twenty_open_and_five_a_minute() -> None:
    assert AlertLimits() == AlertLimits(max_open=20, max_new_per_minute=5)


def test_new_alerts_are_the_unseen_ones_in_order_each_once_up_to_the_room() -> None:
    found = new_alerts(["a", "b", "c", "b", "d", "e"], {"c"}, room=3)
    assert found.remember == ["a", "b", "d"] and found.beyond_room == 1
    assert new_alerts(["a"], {"a"}, room=5).remember == []
    full = new_alerts(["x", "y"], set(), room=0)
    assert full.remember == [] and full.beyond_room == 2
