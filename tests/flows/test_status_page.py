"""The public status page: published from Slack, read over HTTP (in HTTP and Socket Mode, on
SQLite and PostgreSQL). What is on the page is only what was written for the public."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from irbot.domain.evidence import verify_chain
from irbot.fakeslack.harness import Harness
from irbot.store import repo

SETTINGS = """
admins = ["U0ADMIN01"]
[status_page]
title = "Acme <status>"
public_url = "https://status.example.com"
[[status_page.components]]
key = "checkout"
name = "Checkout"
[[status_page.components]]
key = "search"
name = "Search & discovery"
"""
ATOM = "{http://www.w3.org/2005/Atom}"
SECRET_TITLE = "db-7 overloaded by batch job from team-payments"


async def get(harness: Harness, path: str, *, method: str = "GET",
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    url = f"http://127.0.0.1:{harness.irbot.port}{path}"
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers or {}) as response:
            return response.status, CIMultiDict(response.headers), await response.text()  # type: ignore[return-value]


async def page(harness: Harness, path: str = "/status") -> str:
    status, _, body = await get(harness, path)
    assert status == 200, body
    return body


async def publish(harness: Harness, who: str, channel: str, values: dict[str, Any]) -> tuple[Any, str]:
    person = harness.user(who)
    answer = await harness.slack.command(person, "/incident", "publish", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(person)
    if view is None or view["title"]["text"] != "Publish status":
        return None, harness.fake.text_of(answer.json) if answer.json else ""
    await harness.slack.submit_view(person, view["id"], values)
    await harness.settle()
    return view, ""


async def update(harness: Harness, who: str, channel: str, values: dict[str, Any]) -> str:
    person = harness.user(who)
    await harness.slack.command(person, "/incident", "update", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(person)
    assert view is not None and view["title"]["text"] == "Post an update"
    await harness.slack.submit_view(person, view["id"], values)
    await harness.settle()
    return view["id"]


async def resolve(harness: Harness, who: str, channel: str, values: dict[str, Any]) -> dict[str, Any]:
    person = harness.user(who)
    await harness.slack.command(person, "/incident", "resolve", channel=channel)
    await harness.settle()
    view = harness.slack.open_view(person)
    assert view is not None and view["title"]["text"] == "Resolve the incident"
    await harness.slack.submit_view(person, view["id"], values)
    await harness.settle()
    return view


FIRST = {"Public title": "Checkout is failing for some customers", "Impact": "Partial outage",
         "Affected components": ["Checkout"],
         "Public message": "We are investigating <script>alert(1)</script> errors & timeouts at checkout."}


@pytest.fixture
async def harness(start_harness: Any) -> Harness:
    return await start_harness(settings=SETTINGS)


def private_words(harness: Harness, channel: Any) -> list[str]:
    """What must never reach the page: internal title, channel, people, Slack ids."""
    people = [harness.user(n) for n in ("alice", "bob", "carol")]
    return [SECRET_TITLE, channel.id, channel.name, *[p.id for p in people], *[p.name for p in people],
            "<script>", harness.fake.team_id]


async def test_publish_update_resolve_and_read_it_over_http(harness: Harness) -> None:
    channel = await harness.declare("alice", SECRET_TITLE)
    assert "All systems operational" in await page(harness)

    view, refused = await publish(harness, "alice", channel.id, FIRST)
    assert not refused
    title_block = next(b for b in view["blocks"] if b.get("block_id") == "status.title")
    assert title_block["element"]["initial_value"] == SECRET_TITLE  # prefilled with the incident's title
    assert any("published" in t and '"Checkout is failing for some customers" (Partial outage)' in t
               and "https://status.example.com/status/incidents/INC-1" in t
               for t in harness.bot_messages(channel.id))

    body = await page(harness)
    assert "Checkout is failing for some customers" in body
    assert "Current impact: Partial outage" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; errors &amp; timeouts" in body
    assert "Acme &lt;status&gt;" in body and "Search &amp; discovery" in body
    components = body.split('id="components"')[1].split("</section>")[0]
    assert "Checkout</span> <span class=\"status impact-partial_outage\">" in components
    assert "Search &amp; discovery</span> <span class=\"status impact-none\">" in components

    # An internal update stays internal; its public text goes on the page, newest first.
    await update(harness, "alice", channel.id, {"What changed": "Rolled back v42 on db-7",
                                                "Status page": ["Also post on the status page"],
                                                "Public text for the status page": "A fix is being rolled out."})
    await update(harness, "alice", channel.id, {"What changed": "internal only: paged team-payments"})
    body = await page(harness)
    assert body.index("A fix is being rolled out.") < body.index("We are investigating")
    assert "Rolled back v42" not in body and "paged team-payments" not in body

    await resolve(harness, "alice", channel.id, {"Resolution summary (one line)": "Killed batch job on db-7",
                                                 "Public resolution text (status page)": "Checkout works again."})
    body = await page(harness)
    assert "All systems operational" in body
    resolved = body.split('id="resolved"')[1]
    assert "Checkout works again." in resolved and "Checkout is failing for some customers" in resolved
    assert "Killed batch job" not in body

    incident_page = await page(harness, "/status/incidents/INC-1")
    assert incident_page.index("Checkout works again.") < incident_page.index("A fix is being rolled out.")

    status, headers, feed = await get(harness, "/status/feed.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.encode())
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}content").text for e in entries] == [
        "Checkout works again.", "A fix is being rolled out.",
        "We are investigating <script>alert(1)</script> errors & timeouts at checkout."]
    assert len({e.find(f"{ATOM}id").text for e in entries}) == 3

    status, _, summary = await get(harness, "/status/summary.json")
    data = json.loads(summary)
    assert data["status"]["indicator"] == "operational"
    assert data["incidents"][0]["id"] == "INC-1" and data["incidents"][0]["status"] == "resolved"

    for path in ("/status", "/status/incidents/INC-1", "/status/feed.atom", "/status/summary.json"):
        _, _, text = await get(harness, path)
        for word in private_words(harness, channel):
            assert word not in text, (path, word)

    async with harness.irbot.deps.db.reader() as session:
        events = await repo.events_of(1, session=session, kinds=["status_page"])
        chain = await repo.evidence(1, session=session)
    assert [e.data["what"] for e in events] == ["published", "update", "resolved"]
    assert [e.text for e in events][1:] == ["A fix is being rolled out.", "Checkout works again."]
    assert verify_chain(chain).ok  # each publication is an evidence record in the incident's chain
    answer = await harness.slack.command(harness.user("alice"), "/incident", "timeline", channel=channel.id)
    assert "Status page: update by" in harness.fake.text_of(answer.json)
    await harness.slack.command(harness.user("alice"), "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    shared = [m for m in harness.fake.messages(channel.id) if m.get("files") and m.get("bot_id")][-1]
    document = (harness.fake.file_content(shared["files"][0]["id"]) or b"").decode()
    assert "Status page, resolved by" in document and "Checkout works again." in document


async def test_the_page_templates_can_be_overridden(start_harness: Any, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "status_base.html.j2").write_text(
        "<!doctype html><title>{{ settings.title }}</title><p>Ours</p>{% block main %}{% endblock %}\n",
        encoding="utf-8")
    harness = await start_harness(settings=SETTINGS, env={"IRBOT_TEMPLATES": str(folder)})
    channel = await harness.declare("alice", SECRET_TITLE)
    await publish(harness, "alice", channel.id, FIRST)
    body = await page(harness)
    assert body.startswith("<!doctype html><title>Acme &lt;status&gt;</title><p>Ours</p>")
    assert "&lt;script&gt;" in body and "<script>" not in body  # an override is autoescaped too


async def test_who_may_publish_and_what_is_refused(harness: Harness) -> None:
    fake = harness.fake
    channel = await harness.declare("alice", "Search is slow")
    await fake.join(harness.user("bob"), channel.id)
    await fake.join(harness.user("carol"), channel.id)
    view, refused = await publish(harness, "bob", channel.id, FIRST)
    assert view is None and "Only the Incident Commander" in refused and "Communications Lead" in refused
    await harness.slack.command(harness.user("alice"), "/incident",
                                f"assign comms <@{harness.user('carol').id}>", channel=channel.id)
    await harness.settle()
    view, refused = await publish(harness, "carol", channel.id, FIRST)
    assert view is not None and not refused
    assert "Checkout is failing" in await page(harness)

    answer = await harness.slack.command(harness.user("bob"), "/incident", "unpublish", channel=channel.id)
    assert "Only the Incident Commander" in fake.text_of(answer.json)

    await harness.slack.command(harness.user("alice"), "/incident", "drill Fire drill", channel="general")
    await harness.settle()
    drill_view = harness.slack.open_view(harness.user("alice"))
    await harness.slack.submit_view(harness.user("alice"), drill_view["id"], {})
    await harness.settle()
    drill_channel = harness.incident_channels()[-1]
    answer = await harness.slack.command(harness.user("alice"), "/incident", "publish", channel=drill_channel)
    assert "is a drill" in fake.text_of(answer.json)

    private = await harness.declare("alice", "Customer records exposed", values={"Incident type": "security"})
    answer = await harness.slack.command(harness.user("alice"), "/incident", "publish", channel=private.id)
    assert "private incident" in fake.text_of(answer.json)
    assert "Customer records" not in await page(harness)


async def test_form_errors_and_public_text_required_when_ticked(harness: Harness) -> None:
    channel = await harness.declare("alice", "Queue lag")
    person = harness.user("alice")
    await harness.slack.command(person, "/incident", "publish", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(person)
    await harness.slack.submit_view(person, view["id"], {"Public title": "  ", "Impact": "Degraded performance",
                                                         "Public message": "   "})
    errors = harness.slack.view_errors(view["id"])
    assert set(errors) == {"status.title", "status.message"}
    values = {"Public title": "Delays", "Impact": "Degraded performance", "Public message": "Slower than usual."}
    await harness.slack.submit_view(person, view["id"], values)
    await harness.settle()
    assert "Slower than usual." in await page(harness)

    view_id = await update(harness, "alice", channel.id, {"What changed": "x",
                                                          "Status page": ["Also post on the status page"]})
    assert "Write the public text" in harness.slack.view_errors(view_id)["update.public_text"]
    _, _, feed = await get(harness, "/status/feed.atom")
    assert len(ET.fromstring(feed.encode()).findall(f"{ATOM}entry")) == 1


async def test_unpublish_takes_it_off_the_page_the_feed_and_its_own_page(harness: Harness) -> None:
    channel = await harness.declare("alice", "Login failures")
    await publish(harness, "alice", channel.id, FIRST)
    assert "Checkout is failing" in await page(harness)
    answer = await harness.slack.command(harness.user("alice"), "/incident", "unpublish", channel=channel.id)
    await harness.settle()
    assert not answer.json or "not on the status page" not in harness.fake.text_of(answer.json)
    assert "Checkout is failing" not in await page(harness)
    status, _, _ = await get(harness, "/status/incidents/INC-1")
    assert status == 404
    _, _, feed = await get(harness, "/status/feed.atom")
    assert ET.fromstring(feed.encode()).findall(f"{ATOM}entry") == []
    assert any("off the status page" in t for t in harness.bot_messages(channel.id))
    answer = await harness.slack.command(harness.user("alice"), "/incident", "unpublish", channel=channel.id)
    assert "is not on the status page" in harness.fake.text_of(answer.json)
    # the update form no longer offers the status page
    await harness.slack.command(harness.user("alice"), "/incident", "update", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(harness.user("alice"))
    assert not any(b.get("block_id") == "update.public" for b in view["blocks"])


async def test_etag_304_head_and_cache_follow_publications(harness: Harness) -> None:
    status, headers, body = await get(harness, "/status")
    assert status == 200 and headers["ETag"] and "max-age" in headers["Cache-Control"]
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    status, plain, raw = await get(harness, "/status", headers={"Accept-Encoding": "identity"})
    assert status == 200 and "Content-Encoding" not in plain and plain["ETag"] != headers["ETag"] and raw == body
    status, again, empty = await get(harness, "/status", headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and empty == "" and again["ETag"] == headers["ETag"]
    status, head, empty = await get(harness, "/status", method="HEAD")
    assert status == 200 and empty == "" and head["ETag"] == headers["ETag"]

    channel = await harness.declare("alice", "Payments down")
    await publish(harness, "alice", channel.id, FIRST)
    status, changed, body = await get(harness, "/status", headers={"If-None-Match": headers["ETag"]})
    assert status == 200 and changed["ETag"] != headers["ETag"] and "Checkout is failing" in body
    for path in ("/status/feed.atom", "/status/summary.json", "/status/incidents/INC-1"):
        status, h, _ = await get(harness, path)
        assert status == 200
        status, _, _ = await get(harness, path, headers={"If-None-Match": f'W/{h["ETag"]}, "other"'})
        assert status == 304


@pytest.mark.parametrize("path", ["/status/incidents/INC-99", "/status/incidents/INC-0", "/status/incidents/x",
                                  "/status/incidents/INC-1%3Cb%3E", "/status/nope"])
async def test_unknown_or_unpublished_incidents_are_404(harness: Harness, path: str) -> None:
    await harness.declare("alice", "Never published")
    status, _, body = await get(harness, path)
    assert status == 404 and "Never published" not in body


async def test_without_a_status_page_section_the_routes_are_off(start_harness: Any) -> None:
    harness = await start_harness()
    for path in ("/status", "/status/incidents/INC-1", "/status/feed.atom", "/status/summary.json"):
        status, _, _ = await get(harness, path)
        assert status == 404
    channel = await harness.declare("alice", "Anything")
    answer = await harness.slack.command(harness.user("alice"), "/incident", "publish", channel=channel.id)
    assert "not set up" in harness.fake.text_of(answer.json)


async def test_a_form_submitted_twice_publishes_once(harness: Harness) -> None:
    from irbot.domain.status_page import Impact
    from irbot.services import status_page
    channel = await harness.declare("alice", "Double click")
    deps = harness.irbot.deps
    async with deps.db.reader() as session:
        incident = await repo.incident_by_channel(channel.id, session=session)
    form = status_page.PublishForm(title="Slow pages", impact=Impact.DEGRADED, components=("checkout",),
                                   message="Pages load slowly.", source_key="view:V0SAME")
    actor = harness.user("alice").id
    assert await status_page.publish(incident, form, actor=actor, deps=deps) is True
    assert await status_page.publish(incident, form, actor=actor, deps=deps) is False
    _, _, feed = await get(harness, "/status/feed.atom")
    assert len(ET.fromstring(feed.encode()).findall(f"{ATOM}entry")) == 1


async def test_another_replicas_publication_is_seen_through_the_database(harness: Harness) -> None:
    channel = await harness.declare("alice", "Replica check")
    await publish(harness, "alice", channel.id, FIRST)
    cache = harness.irbot.deps.status_cache
    cache.check_every = 0.3
    assert "Checkout is failing" in await page(harness)
    async with harness.irbot.deps.db.session() as session:  # what another replica's unpublish commits
        await repo.mark_publication(1, unpublished_at=harness.irbot.deps.clock(), session=session)
        await repo.bump_status_version(session=session)
        await session.commit()
    await asyncio.sleep(0.35)
    assert "Checkout is failing" not in await page(harness)


async def test_without_public_url_the_feed_names_only_a_well_formed_host(start_harness: Any) -> None:
    harness = await start_harness(settings=SETTINGS.replace('public_url = "https://status.example.com"\n', ""))
    _, _, feed = await get(harness, "/status/feed.atom", headers={"Host": "status.test:8080"})
    assert ET.fromstring(feed.encode()).find(f"{ATOM}id").text == "http://status.test:8080/status"
    _, _, feed = await get(harness, "/status/feed.atom", headers={"Host": 'evil"><x y="'})
    assert ET.fromstring(feed.encode()).find(f"{ATOM}id").text == "http://localhost/status"


async def test_the_page_shows_each_incidents_newest_three_and_links_to_the_rest(harness: Harness) -> None:
    channel = await harness.declare("alice", "Many updates")
    await publish(harness, "alice", channel.id, FIRST)
    for n in range(1, 4):
        await update(harness, "alice", channel.id, {"What changed": f"internal {n}",
                                                    "Status page": ["Also post on the status page"],
                                                    "Public text for the status page": f"Public step {n}."})
    body = await page(harness)
    assert "Public step 3." in body and "Public step 1." in body and "We are investigating" not in body
    assert 'href="https://status.example.com/status/incidents/INC-1">All 4 updates</a>' in body
    incident_page = await page(harness, "/status/incidents/INC-1")
    assert "We are investigating" in incident_page and "All 4 updates" not in incident_page
    await resolve(harness, "alice", channel.id, {"Resolution summary (one line)": "Internal fix"})
    resolved = (await page(harness)).split('id="resolved"')[1]
    assert "This incident has been resolved." in resolved and "Internal fix" not in resolved  # the default text


async def test_only_those_who_may_publish_are_offered_the_status_page_in_the_update_form(harness: Harness) -> None:
    fake, bob = harness.fake, harness.user("bob")
    channel = await harness.declare("alice", "Who speaks in public")
    await publish(harness, "alice", channel.id, FIRST)
    await fake.join(bob, channel.id)
    await harness.slack.command(bob, "/incident", "update", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(bob)
    assert not any(b.get("block_id") == "update.public" for b in view["blocks"])
    # A forged submission with the option is refused, and nothing reaches the page.
    forged = dict(view, blocks=view["blocks"] + [
        {"type": "input", "block_id": "update.public", "optional": True, "label": {"type": "plain_text", "text": "P"},
         "element": {"type": "checkboxes", "action_id": "input", "options": [
             {"text": {"type": "plain_text", "text": "Also post"}, "value": "public"}]}},
        {"type": "input", "block_id": "update.public_text", "optional": True,
         "label": {"type": "plain_text", "text": "T"},
         "element": {"type": "plain_text_input", "action_id": "input", "multiline": True}}])
    fake.view(view["id"]).view = forged
    await harness.slack.submit_view(bob, view["id"], {"What changed": "internal", "P": ["Also post"],
                                                      "T": "Bob speaks for the company"})
    await harness.settle()
    assert "Only the Incident Commander" in harness.slack.view_errors(view["id"])["update.public_text"]
    assert "Bob speaks" not in await page(harness)
