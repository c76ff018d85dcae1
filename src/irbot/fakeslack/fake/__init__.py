"""Pieces of the fake Slack: workspace state, Web API handlers, validation, events.

``irbot.fakeslack.fake_slack.FakeSlack`` assembles them; import from there.
"""
