"""The demo's last part: the communications lead publishes the incident on the status page, and
the page is saved beside the post-mortem (``irbot demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from irbot.demo import Transcript
    from irbot.fakeslack.harness import Harness

STATUS_PAGE = "status-page.html"
SETTINGS = """[status_page]
title = "Acme status"
[[status_page.components]]
key = "checkout"
name = "Checkout"
[[status_page.components]]
key = "payments"
name = "Payments"
"""


async def show_status_page(h: "Harness", t: "Transcript", channel_id: str, folder: Path) -> Path:
    """Restart irbot with a ``[status_page]`` section, publish from Slack, fetch /status, save it."""
    t.step("(operator)", "adds a [status_page] section to the settings and restarts irbot")
    settings = folder / "irbot-demo.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    await h.stop_app()
    h.env = {**h.env, "IRBOT_CONFIG": str(settings)}
    await h.start_app()

    dave = h.user("dave")
    t.step("dave", "(Communications Lead) runs `/incident publish` and writes for customers")
    await h.slack.command(dave, "/incident", "publish", channel=channel_id)
    await h.settle()
    view = h.slack.open_view(dave)
    t.show_form(view)
    await h.slack.submit_view(dave, view["id"], {
        "Public title": "Checkout errors", "Impact": "Partial outage", "Affected components": ["Checkout", "Payments"],
        "Public message": "Between 14:02 and 15:10 UTC about half of checkout attempts failed. "
                          "A change was rolled back and checkout works normally again."})
    await h.settle()
    t.show_new()

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{h.irbot.port}/status") as response:
            html = await response.read()
    path = folder / STATUS_PAGE
    path.write_bytes(html)
    print(f"\n  The public status page (GET /status, {len(html):,} bytes of HTML, no script) is saved as "
          f"{STATUS_PAGE} beside the post-mortem.")
    return path
