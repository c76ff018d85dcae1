"""Rate limiting by tier, and scripted failures (``fail_next``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..slack_methods import METHODS

# chat.postMessage: about one per second per channel with a short burst, plus a workspace cap.
POST_PER_CHANNEL_PER_SEC = 1.0
POST_CHANNEL_BURST = 5
POST_WORKSPACE_PER_MIN = 300


class TokenBucket:
    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now

    def wait_needed(self) -> float:
        """Seconds until one token is available (0 when one is there now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def take(self) -> None:
        self.tokens -= 1


class RateLimiter:
    """Buckets per method (tier allowance per minute, whole minute as burst) and per channel."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def _bucket(self, key: str, capacity: float, per_second: float) -> TokenBucket:
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(capacity, per_second)
        return self._buckets[key]

    def check(self, method: str, channel: str | None) -> int | None:
        """Take a token and return None, or return Retry-After seconds (nothing taken)."""
        buckets = [self._method_bucket(method)]
        if method == "chat.postMessage" and channel:
            buckets.append(self._bucket(f"post:{channel}", POST_CHANNEL_BURST, POST_PER_CHANNEL_PER_SEC))
        wait = max(b.wait_needed() for b in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for b in buckets:
            b.take()
        return None

    def _method_bucket(self, method: str) -> TokenBucket:
        spec = METHODS.get(method)
        per_min = POST_WORKSPACE_PER_MIN if method == "chat.postMessage" else (spec.per_minute if spec else 20)
        return self._bucket(method, per_min, per_min / 60)


@dataclass
class Fault:
    status: int | None
    retry_after: int
    error: str | None
    times: int
    drop: bool
    delay: float
    answer_lost: bool = False


class FaultPlan:
    """Scripted failures per method, consumed one call at a time."""

    def __init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}

    def add(self, method: str, fault: Fault) -> None:
        self._faults.setdefault(method, []).append(fault)

    def take(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def clear(self) -> None:
        self._faults.clear()
