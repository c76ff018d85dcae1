"""Fakes of the trackers irbot files follow-ups in: GitHub's REST issues API and Jira Cloud's REST
API v3, as real HTTP servers on 127.0.0.1, with fault injection and signed webhooks back to irbot.
Used by the tests, the bench and ``irbot demo``."""

from irbot.faketracker.github import FakeGitHub
from irbot.faketracker.jira import FakeJira

__all__ = ["FakeGitHub", "FakeJira"]
