"""Containment checklists per incident type, posted at declare; the settings file may replace them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Playbook:
    type: str
    steps: tuple[str, ...]


DEFAULT_PLAYBOOKS: tuple[Playbook, ...] = (
    Playbook("security", ("Revoke active sessions", "Rotate privileged credentials", "Isolate compromised systems",
                          "Enable enhanced monitoring", "Notify the security team")),
    Playbook("outage", ("Check resource use (CPU, memory, disk, connections)", "Restart affected services",
                        "Verify database and network connectivity", "Shift load away from the failing component")),
    Playbook("data", ("Stop the affected processing", "Assess what data is exposed or damaged",
                      "Prepare the breach notification", "Plan the recovery")),
    Playbook("performance", ("Confirm the regression on dashboards", "Check recent deploys and config changes",
                             "Scale out or shed load", "Capture profiles before restarting anything")),
    Playbook("third-party", ("Confirm the provider's status page or support case",
                             "Switch to a fallback or degrade gracefully", "Tell customers which features are affected",
                             "Track the provider's ETA")),
    Playbook("operational", ("Stop the faulty process or job", "Identify what changed and who changed it",
                             "Roll back or apply the documented fix", "Verify the system is back to normal")),
)


def playbook_for(type_key: str, playbooks: tuple[Playbook, ...]) -> Playbook | None:
    return next((p for p in playbooks if p.type == type_key), None)
