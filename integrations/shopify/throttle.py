"""Cost-aware pacing: a local model of each shop's GraphQL cost bucket (DOMAIN.md §2).

Shopify deducts a query's *requested* cost when it starts and refunds the difference to the actual cost
when it ends; a query whose requested cost exceeds what the bucket holds is refused with THROTTLED. The
model here keeps, per shop, how many points were available at the last observation and refills them at
the restore rate since, so a client can WAIT before sending instead of being refused.

Rules the model keeps:
- The bucket's size and restore rate always come from the latest response (never hard-coded).
- ``acquire(cost)`` waits until the model holds the requested cost, then takes it. Waiters queue first
  come, first served; a refund (``observe``) wakes them at once, so the points Shopify gives back when
  the actual cost is below the requested one are spent without delay.
- ``observe(...)`` refunds ``taken - actual`` and then never lets the local balance exceed what the
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
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
    """The local model of one shop's bucket.

    ``clock`` is monotonic seconds; ``wait(seconds)`` blocks while the points come back (default: a
    condition wait that a refund or a fresher observation cuts short). Both injectable for tests.
    """

    def __init__(self, clock: Clock = time.monotonic, wait: Callable[[float], object] | None = None) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._wait = wait or self._cond.wait
        self._queue: deque[object] = deque()
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
        """Points the model expects the bucket to hold now (taken points of unanswered requests deducted)."""
        with self._cond:
            self._refill()
            return self._available

    def acquire(self, cost: float) -> float:
        """Wait until the bucket holds ``cost`` points, take them, and return the seconds waited.

        Waiters are served first come, first served, so a large query is not starved by small ones.
        With no observation yet there is nothing to wait for: the first response seeds the model.
        """
        ticket = object()
        started = self._clock()
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    self._refill()
                    need = min(cost, self._maximum)  # a query may cost at most the bucket: more would wait forever
                    head = self._queue[0] is ticket
                    if head and (not self._known or cost <= 0 or self._rate <= 0 or self._available >= need):
                        if self._known:
                            self._available -= max(cost, 0.0)
                        return max(0.0, self._clock() - started)
                    self._wait((need - self._available) / self._rate if head else 1.0)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self, taken: float) -> None:
        """Give back points taken for a request that got no cost report (never sent, HTTP error)."""
        with self._cond:
            if self._known and taken > 0:
                self._refill()
                self._available = min(self._maximum, self._available + taken)
                self._cond.notify_all()

    def observe(self, status: ThrottleStatus, *, taken: float = 0.0, actual: float | None = None) -> None:
        """Fold in a response's throttle status; ``taken`` is what ``acquire`` took for that request."""
        with self._cond:
            self._maximum = status.maximum_available
            self._rate = status.restore_rate
            self.last_status = status
            if not self._known:
                self._available = status.currently_available
                self._as_of = self._clock()
                self._known = True
            else:
                self._refill()
                if taken > 0 and actual is not None:
                    self._available += taken - actual
                # The server is authoritative downwards (other processes share the bucket); upwards we keep
                # our own count, which still holds points taken by requests the server has not seen yet.
                self._available = min(self._available, status.currently_available, self._maximum)
            self._cond.notify_all()

    def _refill(self) -> None:
        now = self._clock()
        if self._known:
            self._available = min(self._maximum, self._available + (now - self._as_of) * self._rate)
        self._as_of = now


class Bucket(Protocol):
    """What the client needs of a shop's bucket: ``CostBucket`` (this process) or
    ``shared_bucket.SharedCostBucket`` (every process)."""

    last_status: ThrottleStatus | None

    @property
    def known(self) -> bool: ...

    def available(self) -> float: ...

    def acquire(self, cost: float) -> float: ...

    def release(self, taken: float) -> None: ...

    def observe(self, status: ThrottleStatus, *, taken: float = 0.0, actual: float | None = None) -> None: ...


_buckets: dict[str, Bucket] = {}
_buckets_lock = threading.Lock()
_shared: Callable[[str], Bucket] | None = None


def bucket_for(shop_key: str) -> Bucket:
    """The bucket of one shop (``shop_key``: the normalised shop domain): shared by every process once
    ``shared_bucket.share_buckets`` configured a store, else this process's own model."""
    with _buckets_lock:
        bucket = _buckets.get(shop_key)
        if bucket is None:
            bucket = _buckets[shop_key] = _shared(shop_key) if _shared is not None else CostBucket()
        return bucket


def use_shared_buckets(factory: Callable[[str], Bucket] | None) -> None:
    """Make ``bucket_for`` build shared buckets with ``factory`` (None: back to per-process models)."""
    global _shared
    with _buckets_lock:
        _shared = factory
        _buckets.clear()


def forget_buckets() -> None:
    """Drop every shop's model (tests; a process that changed plans)."""
    with _buckets_lock:
        _buckets.clear()
