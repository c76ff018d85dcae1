"""What every door raises when the service refused (or kept failing): the engine retries on it."""

from __future__ import annotations


class Refused(Exception):
    """The outside service said no, or could not be reached after the door's own retries.
    ``code`` says why, in the service's words (a Slack error code, ``http_503``, ``timeout``)."""

    def __init__(self, what: str, code: str) -> None:
        super().__init__(f"{what} failed: {code}")
        self.code = code
