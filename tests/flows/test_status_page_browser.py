"""A real browser reads the status page: the distribution's headless Chromium, driven by Selenium
through the distribution's chromedriver (nothing is downloaded at run time).

Without the browser the test fails in CI (``CI`` set, as ``.ci/run`` does) and is skipped elsewhere."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from irbot.fakeslack.harness import Harness
from tests.flows.test_status_page import FIRST, SETTINGS, SECRET_TITLE, publish, update

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _browser_or_skip() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    why = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def read_in_browser(url: str, incident_url_part: str, *, javascript: bool = True) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-extensions", "--window-size=375,812"):  # a phone's width
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        seen: dict[str, Any] = {
            "title": driver.title,
            "h1": driver.find_element(By.TAG_NAME, "h1").text,
            "banner": driver.find_element(By.ID, "overall").text,
            "incidents": [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#current ~ article h3 a")],
            "updates": [li.text for li in driver.find_elements(By.CSS_SELECTOR, "article .updates li")],
            "overflows": driver.execute_script(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
            ) if javascript else None,
            "scripts": len(driver.find_elements(By.TAG_NAME, "script")),
            "headings": [h.tag_name for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3, h4, h5, h6")],
        }
        link = driver.find_element(By.PARTIAL_LINK_TEXT, seen["incidents"][0] if seen["incidents"] else "x")
        seen["incident_href"] = link.get_attribute("href")
        driver.get(url.replace("/status", incident_url_part))
        seen["incident_page_updates"] = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".updates li")]
        seen["logs"] = driver.get_log("browser")
        return seen
    finally:
        driver.quit()


@pytest.mark.parametrize("slack_mode", ["http"])
async def test_a_browser_finds_the_published_incident_and_its_update_with_no_console_errors(
        start_harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _browser_or_skip()
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or driver
    harness: Harness = await start_harness(settings=SETTINGS.replace('public_url = "https://status.example.com"\n', ""))
    channel = await harness.declare("alice", SECRET_TITLE)
    await publish(harness, "alice", channel.id, FIRST)
    await update(harness, "alice", channel.id, {"What changed": "internal words",
                                                "Status page": ["Also post on the status page"],
                                                "Public text for the status page": "A fix is rolling out."})
    url = f"http://127.0.0.1:{harness.irbot.port}/status"
    seen = await asyncio.to_thread(read_in_browser, url, "/status/incidents/INC-1")

    assert seen["title"] == "Acme <status>" and seen["h1"] == "Acme <status>"
    assert "Partial outage" in seen["banner"]
    assert seen["incidents"] == ["Checkout is failing for some customers"]
    assert seen["incident_href"].endswith("/status/incidents/INC-1")
    assert "A fix is rolling out." in seen["updates"][0] and "We are investigating" in seen["updates"][1]
    assert "<script>alert(1)</script>" in seen["updates"][1]  # shown as text, never run
    assert not any("internal words" in u for u in seen["updates"])
    assert "A fix is rolling out." in seen["incident_page_updates"][0]
    assert seen["scripts"] == 0 and seen["overflows"] is False
    problems = [entry for entry in seen["logs"] if entry.get("level") in ("SEVERE", "WARNING")]
    assert problems == [], problems
    levels = [int(tag[1]) for tag in seen["headings"]]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), seen["headings"]

    # With JavaScript off the page reads the same (it has none).
    without = await asyncio.to_thread(read_in_browser, url, "/status/incidents/INC-1", javascript=False)
    assert without["incidents"] == seen["incidents"] and without["updates"] == seen["updates"]
    assert [e for e in without["logs"] if e.get("level") in ("SEVERE", "WARNING")] == []
