"""Prometheus metrics served on ``GET /metrics``, one registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.incidents_declared = Counter(
            "irbot_incidents_declared", "Incidents declared", ["severity", "drill"], registry=self.registry)
        self.incidents_open = Gauge(
            "irbot_incidents_open", "Open incidents", ["severity"], registry=self.registry)
        self.slack_api_calls = Counter(
            "irbot_slack_api_calls", "Slack Web API calls by outcome", ["method", "outcome"], registry=self.registry)
        self.request_duration = Histogram(
            "irbot_request_duration_seconds", "Time to acknowledge a Slack request", ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0), registry=self.registry)
        self.reminders_sent = Counter(
            "irbot_reminders_sent", "Reminders posted", ["kind"], registry=self.registry)
        self.reminder_lateness = Histogram(
            "irbot_reminder_lateness_seconds", "How long after its due time a reminder fired",
            buckets=(0.1, 0.5, 1, 2, 5, 15, 60, 300, 3600), registry=self.registry)
        self.scheduler_active = Gauge(
            "irbot_scheduler_active", "1 when this process runs the reminder scheduler", registry=self.registry)
        self.webhook_deliveries = Counter(
            "irbot_webhook_deliveries", "Webhook delivery attempts by outcome", ["outcome"], registry=self.registry)
        self.outbox_items = Gauge(
            "irbot_outbox_items", "Slack work owed by committed changes: pending (not yet delivered) and "
            "failed (given up)", ["state"], registry=self.registry)
        self.pagerduty_events = Counter(
            "irbot_pagerduty_events", "PagerDuty Events API v2 calls by action and outcome", ["action", "outcome"],
            registry=self.registry)
        self.alerts_received = Counter(
            "irbot_alerts_received", "Alertmanager notifications by what irbot did", ["action"],
            registry=self.registry)
        self.tracker_issues = Counter(
            "irbot_tracker_issues", "Issues for action items: created, or found again after a lost answer",
            ["outcome"], registry=self.registry)

    def observe_slack_call(self, method: str, outcome: str) -> None:
        self.slack_api_calls.labels(method=method, outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
