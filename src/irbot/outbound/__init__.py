"""Typed doors to the outside services irbot calls (Slack's is ``irbot.outbound.slack``)."""
