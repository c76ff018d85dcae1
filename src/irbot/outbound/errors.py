"""What every door raises when the service refused (or kept failing): the engine retries on it."""

from __future__ import annotations


class Refused(Exception):
    """The outside service said no, or could not be reached after the door's own retries.
    ``code`` says why, in the service's words (a Slack error code, ``http_503``, ``timeout``)."""

    def __init__(self, what: str, code: str, *, retry_after: float | None = None, final: bool = False) -> None:
        super().__init__(f"{what} failed: {code}")
        self.code = code
        self.retry_after = retry_after  # the service said when to come back (Retry-After): not sooner
        self.final = final  # asking again will not help (a refused token, a missing project): give up now
