"""A fake PagerDuty for tests and ``irbot demo``: the Events API v2 (``POST /v2/enqueue``) as a real
HTTP server on 127.0.0.1, and a sender of V3 webhooks signed the way PagerDuty signs them."""

from irbot.fakepagerduty.fake import FakePagerDuty, PagerDutyIncident, sign_webhook

__all__ = ["FakePagerDuty", "PagerDutyIncident", "sign_webhook"]
