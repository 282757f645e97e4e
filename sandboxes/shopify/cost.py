"""The per-shop leaky bucket of the sandbox; the cost rules are ``integrations.shopify.cost`` (shared
with the client's pacing).

The requested cost is charged up front; after execution the difference to the actual cost (connections
counted by the nodes really returned) is given back. A request the bucket cannot cover gets THROTTLED and
costs nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from integrations.shopify.cost import CostCalculator, Fragments

__all__ = ["CostCalculator", "Fragments", "LeakyBucket"]


class LeakyBucket:
    """Cost points available now: refills continuously at ``restore_rate`` up to ``size``."""

    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.restore_rate = restore_rate
        self._clock = clock
        self._available = size
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.size, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def take(self, cost: int) -> bool:
        """Charge ``cost`` if the bucket holds it; False (nothing charged) otherwise."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def give_back(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + max(points, 0))

    def drain(self) -> None:
        with self._lock:
            self._available, self._at = 0.0, self._clock()

    def refill(self) -> None:
        with self._lock:
            self._available, self._at = self.size, self._clock()

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": float(int(self.available())),
            "restoreRate": float(self.restore_rate),
        }
