"""Channel names that Slack accepts: lowercase letters, digits, hyphens, underscores, ≤ 80 chars."""

from __future__ import annotations

import re
import unicodedata

MAX_CHANNEL_NAME = 80
_SUFFIX_ROOM = 4  # "-99" plus a spare, so a taken name can still get a suffix


def slugify(text: str) -> str:
    """ASCII-fold, lowercase, and turn every run of other characters into one hyphen."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def channel_name(prefix: str, number: int, title: str) -> str:
    """``inc-42-checkout-api-returning-502s``; the title part is cut on a word boundary."""
    head = f"{slugify(prefix) or 'inc'}-{number}"
    room = MAX_CHANNEL_NAME - _SUFFIX_ROOM - len(head) - 1
    slug = slugify(title)
    if len(slug) > room:
        cut = slug[:room]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return f"{head}-{slug}".strip("-") if slug else head


def with_suffix(name: str, attempt: int) -> str:
    """The name to try after ``name_taken``: ``name-2``, ``name-3`` …, still ≤ 80 chars."""
    if attempt <= 1:
        return name
    suffix = f"-{attempt}"
    return name[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-") + suffix
