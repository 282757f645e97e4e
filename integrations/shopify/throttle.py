"""Cost-aware pacing: a local model of each shop's GraphQL cost bucket (DOMAIN.md §2).

Shopify deducts a query's *requested* cost when it starts and refunds the difference to the actual cost
when it ends; a query whose requested cost exceeds what the bucket holds is refused with THROTTLED. The
model here keeps, per shop, how many points were available at the last observation and refills them at
the restore rate since, so a client can WAIT before sending instead of being refused.

Rules the model keeps:
- The bucket's size and restore rate always come from the latest response (never hard-coded).
- ``reserve(cost)`` takes the points at once (the balance may go negative: a debt later callers wait
  out), so concurrent callers queue in reservation order instead of all waking when points return.
- ``observe(...)`` refunds ``reserved - actual`` and then never lets the local balance exceed what the
  server reported: other processes spending the same bucket only ever make us slower, never throttled.
- Before the first observation nothing is known: requests go out unpaced and the first response seeds
  the model.

One ``CostBucket`` per shop per process (``bucket_for``), shared by every client of that shop; all
methods are thread-safe.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class ThrottleStatus:
    """``extensions.cost.throttleStatus`` of one response, with when it was seen (UTC)."""

    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: dt.datetime


@dataclass(frozen=True)
class QueryCost:
    """``extensions.cost`` of one response."""

    requested: float | None
    actual: float | None
    throttle: ThrottleStatus | None


def parse_cost(extensions: Any, *, now: dt.datetime | None = None) -> QueryCost | None:
    """The ``cost`` block of a response's ``extensions`` (None when absent or malformed)."""
    if not isinstance(extensions, Mapping):
        return None
    cost = extensions.get("cost")
    if not isinstance(cost, Mapping):
        return None
    throttle = None
    status = cost.get("throttleStatus")
    if isinstance(status, Mapping):
        try:
            throttle = ThrottleStatus(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                observed_at=now or dt.datetime.now(dt.UTC),
            )
        except (KeyError, TypeError, ValueError):
            throttle = None
    return QueryCost(requested=_number(cost.get("requestedQueryCost")), actual=_number(cost.get("actualQueryCost")),
                     throttle=throttle)  # fmt: skip


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class CostBucket:
    """The local model of one shop's bucket. ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._maximum = 0.0
        self._rate = 0.0
        self._available = 0.0
        self._as_of = 0.0
        self._known = False
        self.last_status: ThrottleStatus | None = None

    @property
    def known(self) -> bool:
        return self._known

    def available(self) -> float:
        """Points the model expects the bucket to hold now (negative: reserved beyond what is there)."""
        with self._lock:
            self._refill()
            return self._available

    def reserve(self, cost: float) -> float:
        """Take ``cost`` points now; return the seconds to wait before sending (0 when they are there)."""
        with self._lock:
            if not self._known or cost <= 0 or self._rate <= 0:
                return 0.0
            self._refill()
            cost = min(cost, self._maximum)  # a query may cost at most the bucket; more would wait forever
            wait = max(0.0, (cost - self._available) / self._rate)
            self._available -= cost
            return wait

    def release(self, reserved: float) -> None:
        """Give back a reservation whose request was never sent (or got no cost report)."""
        with self._lock:
            if self._known and reserved > 0:
                self._refill()
                self._available = min(self._maximum, self._available + reserved)

    def observe(self, status: ThrottleStatus, *, reserved: float = 0.0, actual: float | None = None) -> None:
        """Fold in a response's throttle status; ``reserved`` is what ``reserve`` took for that request."""
        with self._lock:
            self._maximum = status.maximum_available
            self._rate = status.restore_rate
            self.last_status = status
            if not self._known:
                self._available = status.currently_available
                self._as_of = self._clock()
                self._known = True
                return
            self._refill()
            if reserved > 0 and actual is not None:
                self._available += reserved - actual
            # The server is authoritative downwards (other processes share the bucket); upwards we keep
            # our own count, which still holds reservations of requests the server has not seen yet.
            self._available = min(self._available, status.currently_available, self._maximum)

    def _refill(self) -> None:
        now = self._clock()
        if self._known:
            self._available = min(self._maximum, self._available + (now - self._as_of) * self._rate)
        self._as_of = now


_buckets: dict[str, CostBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(shop_key: str) -> CostBucket:
    """The process-wide bucket of one shop (``shop_key``: the normalised shop domain)."""
    with _buckets_lock:
        bucket = _buckets.get(shop_key)
        if bucket is None:
            bucket = _buckets[shop_key] = CostBucket()
        return bucket


def forget_buckets() -> None:
    """Drop every shop's model (tests; a process that changed plans)."""
    with _buckets_lock:
        _buckets.clear()
