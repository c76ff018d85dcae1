"""The one engine for work that committed changes owe to Slack and the other outside services."""
