"""One rule decides who may see an incident (``services.visibility``): a private incident shows to
the people in its channel, its role holders and the admins, and to nobody else; a public one shows
to everyone. ``/incident list``, ``/incident followups``, the Home tab and the link shortcut use it."""

from __future__ import annotations

from sqlmodel import select

from irbot.services.visibility import visible_to
from irbot.store import repo
from irbot.store.models import IncidentRole

DATA = {"Incident type": "Data"}  # data incidents always get a private channel


async def test_a_private_incident_shows_to_members_role_holders_and_admins_only(start_harness) -> None:  # noqa: ANN001
    harness = await start_harness(settings='admins = ["U0DAVE"]\n')
    fake, deps = harness.fake, harness.irbot.deps
    alice, bob, carol, dave, erin = (harness.user(name) for name in ("alice", "bob", "carol", "dave", "erin"))
    private_channel = await harness.declare("alice", "Keys leaked", values=DATA)
    await harness.declare("alice", "Checkout slow")
    await fake.invite(alice, private_channel.id, bob)  # a member, holding no role
    await harness.settle()
    async with deps.db.reader() as session:
        incidents = await repo.open_incidents(session=session)
    assert [i.private for i in incidents] == [True, False]
    async with deps.db.session() as session:  # a role holder who is not (or no longer) in the channel
        row = (await session.execute(select(IncidentRole).where(
            IncidentRole.incident_id == incidents[0].id, IncidentRole.user_id == None))).scalars().first()  # noqa: E711
        assert row is not None
        row.user_id = carol.id
        await session.commit()
    assert carol.id not in fake.channel(private_channel.id).members
    assert dave.id not in fake.channel(private_channel.id).members

    def titles(shown: list) -> list[str]:  # type: ignore[type-arg]
        return [incident.title for incident in shown]

    assert titles(await visible_to(deps, erin.id, incidents)) == ["Checkout slow"]
    for person in (alice, bob, carol, dave):
        assert titles(await visible_to(deps, person.id, incidents)) == ["Keys leaked", "Checkout slow"], person.name
    assert titles(await visible_to(deps, erin.id, incidents[1:])) == ["Checkout slow"]
    assert await visible_to(deps, erin.id, []) == []
