"""Pieces of the fake Slack: workspace state, Web API handlers, validation, events.

``irbot.testing.fake_slack.FakeSlack`` assembles them; import from there.
"""
