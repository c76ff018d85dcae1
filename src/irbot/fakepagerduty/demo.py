"""The paging part of ``irbot demo``: a fake PagerDuty is the on-call service; the SEV-1 the demo
declares pages it, and the on-call engineer acknowledges from "their phone" (a signed V3 webhook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irbot.fakepagerduty.fake import FakePagerDuty

ROUTING_KEY = "0" * 31 + "1"  # the demo's on-call service (a made-up integration key)
SECRET = "irbot-demo-webhook-secret"
ON_CALL = "Dana Oncall"


class DemoPagerDuty:
    def __init__(self) -> None:
        self.fake = FakePagerDuty()
        self.env: dict[str, str] = {}

    async def start(self, folder: Path) -> "DemoPagerDuty":
        """Start the fake and write the settings that point irbot at it; ``env`` holds them."""
        await self.fake.start()
        self.fake.add_service("Checkout on-call", ROUTING_KEY)
        settings = folder / "irbot-demo.toml"
        settings.write_text(f'[pagerduty]\nevents_url = "{self.fake.events_url}"\nrouting_key = "{ROUTING_KEY}"\n'
                            f'webhook_secret = "{SECRET}"\n', encoding="utf-8")
        self.env = {"IRBOT_CONFIG": str(settings)}
        return self

    async def stop(self) -> None:
        await self.fake.stop()

    async def play(self, harness: Any, transcript: Any) -> None:
        """Show the page the declare sent, then its acknowledgement arriving in the channel."""
        [incident] = self.fake.incidents[-1:] or [None]
        if incident is None:
            return
        transcript.step("PagerDuty", f"pages the on-call engineer: “{incident.summary}” ({incident.severity})")
        transcript.show_new()
        url = harness.fake.app_url.replace("/slack/events", "/pagerduty/webhook")
        transcript.step(ON_CALL, "acknowledges the page in the PagerDuty app (PagerDuty sends irbot a signed webhook)")
        await self.fake.acknowledge(incident.dedup_key, url=url, secret=SECRET, agent=ON_CALL)
        await harness.settle()
        transcript.show_new()
