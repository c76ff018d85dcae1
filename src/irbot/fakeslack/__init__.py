"""Test support: a fake Slack and a client that signs requests the way Slack does."""

from .fake.model import User
from .fake_slack import FakeSlack
from .signed_client import Response, SlackClient

__all__ = ["FakeSlack", "SlackClient", "User", "Response"]
