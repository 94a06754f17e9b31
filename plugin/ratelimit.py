"""Per-client token-bucket rate limiting, in process memory, with an injectable clock.

The bucket holds up to ``rate_per_minute`` tokens (the allowed burst) and refills continuously,
so a client that keeps to the average rate is never refused. In-memory is enough for one service
process; behind several processes each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead, and if not, how many whole seconds to wait."""

    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """Token buckets keyed by client id (API key id, or ``form:<ip>``)."""

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000) -> None:
        self.capacity = float(max(rate_per_minute, 0))
        self.refill_per_s = self.capacity / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, client: str, cost: float = 1.0) -> Verdict:
        """Spend ``cost`` tokens of ``client``'s bucket, or say how long until it could."""
        if self.capacity <= 0:
            return Verdict(False, 60)
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            if cost > self.capacity:  # could never succeed; say "a full minute"
                return Verdict(False, 60)
            if tokens >= cost:
                if len(self._buckets) >= self.max_clients and client not in self._buckets:
                    self._buckets.clear()  # crude bound on memory; full buckets are the default anyway
                self._buckets[client] = (tokens - cost, now)
                return Verdict(True)
            self._buckets[client] = (tokens, now)
            wait = (cost - tokens) / self.refill_per_s
            return Verdict(False, max(1, math.ceil(wait)))
