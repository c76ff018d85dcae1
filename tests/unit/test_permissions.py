"""Who may give which role, and who may keep the regulatory clocks: pure rules."""

from __future__ import annotations

from irbot.domain.permissions import Actors, may_change_role, may_enter, may_keep_clocks, vouched_for
from irbot.domain.roles import Role

LEGAL = Role("legal", "Legal & Compliance", "Regulators and counsel", restricted=True)
TECH = Role("tech_lead", "Technical Lead", "Leads the investigation")
COMMANDER = Role("commander", "Incident Commander", "Coordinates")


def actors(actor: str, *, commander: str | None = "UIC", declarer: str | None = "UDECL",
           admins: tuple[str, ...] = ("UADMIN",)) -> Actors:
    return Actors(actor=actor, declarer=declarer, commander=commander, admins=frozenset(admins))


def test_nobody_takes_a_restricted_role_themselves_even_when_it_is_empty() -> None:
    refusal = may_change_role(actors("UBOB"), LEGAL, holder=None, target="UBOB")
    assert refusal is not None and refusal.reason == "refuse_restricted"


def test_a_restricted_role_is_not_handed_on_by_its_holder() -> None:
    refusal = may_change_role(actors("UCAROL"), LEGAL, holder="UCAROL", target="UBOB")
    assert refusal is not None and refusal.reason == "refuse_restricted"


def test_the_commander_the_declarer_without_one_and_admins_give_a_restricted_role() -> None:
    assert may_change_role(actors("UIC"), LEGAL, holder=None, target="UCAROL") is None
    assert may_change_role(actors("UIC"), LEGAL, holder=None, target="UIC") is None
    assert may_change_role(actors("UDECL", commander=None), LEGAL, holder=None, target="UCAROL") is None
    assert may_change_role(actors("UDECL"), LEGAL, holder=None, target="UCAROL") is not None, "a commander is named"
    assert may_change_role(actors("UADMIN"), LEGAL, holder="UCAROL", target="UBOB") is None


def test_empty_unrestricted_roles_and_the_commander_seat_stay_open_to_anyone() -> None:
    assert may_change_role(actors("UBOB", commander=None), COMMANDER, holder=None, target="UBOB") is None
    assert may_change_role(actors("UBOB"), TECH, holder=None, target="UBOB") is None
    assert may_change_role(actors("UBOB"), TECH, holder="UERIN", target="UBOB").reason == "refuse_take_held"


def test_the_legal_holder_keeps_clocks_only_where_legal_may() -> None:
    carol = actors("UCAROL")
    assert may_keep_clocks(carol, legal_holder="UCAROL", legal_too=True)
    assert not may_keep_clocks(carol, legal_holder="UCAROL", legal_too=False)
    assert not may_keep_clocks(carol, legal_holder=None, legal_too=True)
    assert may_keep_clocks(actors("UIC"), legal_holder=None, legal_too=False)


def test_only_people_in_a_private_incidents_channel_enter_it() -> None:
    assert may_enter(private=False, vouched=False, in_channel=False) is None
    assert may_enter(private=True, vouched=False, in_channel=True) is None
    assert may_enter(private=True, vouched=True, in_channel=False) is None
    refusal = may_enter(private=True, vouched=False, in_channel=False)
    assert refusal is not None and refusal.reason == "refuse_not_member"


def test_admins_and_role_holders_are_vouched_for() -> None:
    assert vouched_for("UADMIN", admins=frozenset({"UADMIN"}), holders=set())
    assert vouched_for("UCAROL", admins=frozenset(), holders={"UCAROL"})
    assert not vouched_for("UERIN", admins=frozenset({"UADMIN"}), holders={"UCAROL"})
