"""The door to webhook receivers: one signed POST, no redirects followed, bounded in time and size.

A receiver checks ``X-Irbot-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with its
secret, and refuses a delivery whose ``X-Irbot-Timestamp`` (Unix seconds) is more than five minutes
from its own clock, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import aiohttp

from irbot.outbound.errors import Refused

TIMEOUT = aiohttp.ClientTimeout(total=10)
MAX_BODY = 64 * 1024  # a payload is a few hundred bytes; anything larger is a bug, not a delivery


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def post_signed(url: str, secret: str, body: bytes, *, timestamp: int) -> None:
    """POST ``body``; returns when the receiver answered 2xx, else raises :class:`Refused`.
    A redirect is an answer like any other non-2xx: following it could send the signed body elsewhere."""
    if len(body) > MAX_BODY:
        raise Refused("webhook", "body_too_large")
    headers = {"Content-Type": "application/json", "User-Agent": "irbot-webhooks",
               "X-Irbot-Timestamp": str(timestamp), "X-Irbot-Signature": signature(secret, timestamp, body)}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if not 200 <= response.status < 300:
                    raise Refused("webhook", f"http_{response.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Refused("webhook", type(exc).__name__) from None
