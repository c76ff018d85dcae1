"""The status page's pure rules, its settings, and the version-keyed cache."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from irbot.config import ConfigError, load_settings
from irbot.domain.permissions import Actors
from irbot.domain.status_page import (
    Component, Impact, Published, banner, component_statuses, may_publish, publish_refusal, safe_link, shown_resolved,
)
from irbot.store.status_page import Rendered, StatusPageCache

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


def test_a_component_takes_the_worst_impact_of_the_open_incidents_naming_it() -> None:
    components = [Component("checkout", "Checkout"), Component("search", "Search"), Component("api", "API")]
    published = [Published("INC-1", Impact.DEGRADED, ("checkout", "search"), open=True),
                 Published("INC-2", Impact.MAJOR, ("checkout",), open=True),
                 Published("INC-3", Impact.MAJOR, ("api",), open=False)]
    assert component_statuses(components, published) == [
        (components[0], Impact.MAJOR), (components[1], Impact.DEGRADED), (components[2], None)]
    assert banner(published) == Impact.MAJOR
    assert banner([published[2]]) is None


def test_links_are_http_or_https_only() -> None:
    assert safe_link("https://status.example.com/x") == "https://status.example.com/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "mailto:a@b", "//evil.example", "", None, "http://"):
        assert safe_link(bad) is None


def test_who_may_publish_and_what_never_is() -> None:
    def actors(actor: str, commander: str | None = None) -> Actors:
        return Actors(actor=actor, declarer="UDECL", commander=commander, admins=frozenset({"UADMIN"}))
    assert may_publish(actors("UDECL"), comms_lead=None)  # the declarer while there is no commander
    assert not may_publish(actors("UDECL", commander="UCMD"), comms_lead=None)
    assert may_publish(actors("UCOMMS", commander="UCMD"), comms_lead="UCOMMS")
    assert may_publish(actors("UADMIN", commander="UCMD"), comms_lead=None)
    assert not may_publish(actors("UOTHER", commander="UCMD"), comms_lead="UCOMMS")
    assert publish_refusal(private=True, drill=False) == "refuse_private"
    assert publish_refusal(private=False, drill=True) == "refuse_drill"
    assert publish_refusal(private=False, drill=False) is None


def test_resolved_incidents_show_for_fourteen_days() -> None:
    assert shown_resolved(NOW - timedelta(days=14), NOW)
    assert not shown_resolved(NOW - timedelta(days=14, seconds=1), NOW)
    assert not shown_resolved(None, NOW)


def settings_from(tmp_path: Path, text: str):  # noqa: ANN201
    path = tmp_path / "irbot.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"IRBOT_CONFIG": str(path)})


def test_the_section_is_parsed_and_its_absence_turns_the_page_off(tmp_path: Path) -> None:
    assert settings_from(tmp_path, "").status_page is None
    page = settings_from(tmp_path, '[status_page]\ntitle = "Acme"\npublic_url = "https://s.example.com/"\n'
                                   '[[status_page.components]]\nkey = "api"\nname = "API"\n').status_page
    assert page.title == "Acme" and page.public_url == "https://s.example.com"
    assert page.components == (Component("api", "API"),)


@pytest.mark.parametrize("text, names", [
    ('[status_page]\ncolour = "red"\n', "unknown key 'colour'"),
    ('[status_page]\npublic_url = "javascript:alert(1)"\n', "public_url must be an http(s) URL"),
    ('[status_page]\npublic_url = "https://x.example/\\"><script>"\n', "public_url must be an http(s) URL"),
    ('[status_page]\ntitle = ""\n', "status_page.title"),
    ('[status_page]\n[[status_page.components]]\nkey = "a"\n', "status_page.components[0]"),
    ('[status_page]\n[[status_page.components]]\nkey = "a"\nname = "A"\n[[status_page.components]]\nkey = "a"\n'
     'name = "B"\n', "listed twice"),
])
def test_bad_settings_are_one_clear_line(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        settings_from(tmp_path, text)


async def test_the_cache_renders_once_per_version_however_many_ask() -> None:
    version = 1
    reads = renders = 0

    async def read_version() -> int:
        nonlocal reads
        reads += 1
        return version

    async def build(v: int) -> Rendered:
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.01)
        return Rendered(body=f"v{v}".encode(), content_type="text/plain", etag=f'"{v}"', version=v, valid_until=None)

    cache = StatusPageCache(read_version, lambda: NOW, check_every=60)
    answers = await asyncio.gather(*(cache.get("page", build) for _ in range(50)))
    assert {a.body for a in answers} == {b"v1"} and renders == 1 and reads == 1
    version = 2
    assert (await cache.get("page", build)).body == b"v1"  # another replica's publication: seen at the next check
    cache.invalidate()  # a publication made here
    assert (await cache.get("page", build)).body == b"v2" and renders == 2


async def test_a_cached_page_expires_when_a_resolved_incident_ages_off() -> None:
    now = [NOW]
    built: list[int] = []

    async def build(v: int) -> Rendered:
        built.append(v)
        return Rendered(body=b"x", content_type="text/plain", etag='"x"', version=v,
                        valid_until=NOW + timedelta(hours=1))

    async def read_version() -> int:
        return 7

    cache = StatusPageCache(read_version, lambda: now[0], check_every=60)
    await cache.get("page", build)
    await cache.get("page", build)
    now[0] = NOW + timedelta(hours=1)
    await cache.get("page", build)
    assert built == [7, 7]


async def test_while_the_database_is_down_the_last_page_is_served() -> None:
    from sqlalchemy.exc import OperationalError
    down = False

    async def read_version() -> int:
        if down:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return 3

    async def build(v: int) -> Rendered:
        return Rendered(body=b"page", content_type="text/plain", etag='"p"', version=v, valid_until=None)

    cache = StatusPageCache(read_version, lambda: NOW, check_every=0)
    down = True
    with pytest.raises(OperationalError):
        await cache.get("page", build)  # nothing to show yet
    down = False
    assert (await cache.get("page", build)).body == b"page"
    down = True
    assert (await cache.get("page", build)).body == b"page"
