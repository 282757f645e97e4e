"""One sandbox shop's state: seeded orders on demand, materialized (mutated or created) orders, the shop
clock, and every record the API and the control plane need (jobs, bulk operations, subscriptions,
idempotency keys, the per-order mutation log).

Concurrency: one re-entrant lock (``ShopState.lock``) serializes every read and write; the HTTP server runs
requests in threads, so callers take it around whole operations.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandboxes.shopify import ids
from sandboxes.shopify.config import SandboxConfig
from sandboxes.shopify.generator import Seeder
from sandboxes.shopify.model import Order

MS = timedelta(milliseconds=1)


class ShopClock:
    """The shop's time: real UTC time (ms precision), but strictly increasing across ``tick()`` calls."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()
        self._ahead = timedelta(0)

    def now(self) -> datetime:
        real = datetime.now(UTC) + self._ahead
        return real.replace(microsecond=(real.microsecond // 1000) * 1000)

    def advance(self, seconds: float) -> None:
        """Move the shop's time forward (tests: a change lands in a later second without sleeping)."""
        with self._lock:
            self._ahead += timedelta(seconds=seconds)

    def tick(self) -> datetime:
        with self._lock:
            self._last = max(self.now(), self._last + MS)
            return self._last


@dataclass
class MutationRecord:
    """One mutation the sandbox received for an order (kept for the control API)."""

    at: datetime
    name: str
    order_id: str | None
    applied: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """An asynchronous job (orderCancel). ``done`` flips when its work has been applied."""

    id: str
    order_id: int | None = None
    done: bool = False


@dataclass
class BulkOperation:
    id: str
    query: str
    created_at: datetime
    status: str = "CREATED"  # CREATED, RUNNING, COMPLETED, FAILED, CANCELED
    type: str = "QUERY"
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    error_code: str | None = None
    path: str | None = None  # the JSONL file on disk


@dataclass
class Subscription:
    id: int
    topic: str  # GraphQL enum, e.g. ORDERS_UPDATED
    uri: str
    created_at: datetime
    updated_at: datetime
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    filter: str | None = None


@dataclass
class IdempotentResult:
    fingerprint: str
    result: dict[str, Any]


class ShopState:
    """Orders and side records for one shop. Seeded order ``i`` is built until first mutated."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock = ShopClock()
        start = config.clock_start or self.clock.now()
        end = start - timedelta(hours=1)
        self.seeder = Seeder(
            config.seed, config.orders, end - timedelta(days=config.history_days), end, config.shop_currency
        )
        self.reset()

    def reset(self) -> None:
        """Back to the seeded state: forget every mutation, created order and record."""
        with self.lock:
            self.materialized: dict[int, Order] = {}
            self.deleted: set[int] = set()
            # (event id, when, order id, order name) per deletion: REST events.json?verb=destroy reads it.
            self.deletion_log: list[tuple[int, datetime, int, str]] = []
            self.created = 0
            self.version = 0
            self.jobs: dict[str, Job] = {}
            self.bulk_operations: dict[str, BulkOperation] = {}
            self.subscriptions: dict[int, Subscription] = {}
            self.idempotency: dict[str, IdempotentResult] = {}
            self.mutations: list[MutationRecord] = []
            self.per_order: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.next_serial = 1
            self.disputes: dict[int, Any] = {}  # Shopify Payments disputes (disputes.py)
            if self.config.disputes:
                from sandboxes.shopify.disputes import seed

                seed(self, self.config.disputes)

    @property
    def seeded_count(self) -> int:
        return self.config.orders

    @property
    def total_count(self) -> int:
        return self.config.orders + self.created

    def get(self, index: int) -> Order | None:
        """The order at ``index`` as it is now (a fresh copy of a seeded one: do not mutate it)."""
        if index in self.materialized:
            return self.materialized[index]
        if 0 <= index < self.config.orders and index not in self.deleted:
            return self.seeder.build(index)
        return None

    def get_by_id(self, numeric_id: int) -> Order | None:
        return self.get(ids.order_index(numeric_id))

    def for_update(self, index: int) -> Order | None:
        """The order at ``index``, materialized so changes stick. Call ``touch`` after changing it."""
        order = self.materialized.get(index)
        if order is None:
            order = self.get(index)
            if order is None:
                return None
            self.materialized[index] = order
        return order

    def touch(self, order: Order) -> datetime:
        """Record a change: ``updated_at`` moves to a new, strictly later shop instant."""
        order.updated_at = self.clock.tick()
        self.materialized[order.index] = order
        self.version += 1
        return order.updated_at

    def delete(self, order: Order) -> None:
        """Forget an order (seeded or created); its id never comes back."""
        self.materialized.pop(order.index, None)
        self.deleted.add(order.index)
        event_id = ids.EVENT_BASE + len(self.deletion_log) + 1
        self.deletion_log.append((event_id, self.clock.tick(), order.id, order.name))
        self.version += 1

    def add_created(self, order: Order) -> None:
        self.materialized[order.index] = order
        self.created += 1
        self.version += 1

    def serial(self) -> int:
        """A shop-wide counter for ids of jobs, bulk operations, subscriptions and webhook events."""
        value = self.next_serial
        self.next_serial += 1
        return value

    def record(self, name: str, order_gid: str | None, applied: bool, **detail: Any) -> None:
        self.mutations.append(MutationRecord(self.clock.now(), name, order_gid, applied, detail))
        if order_gid is not None:
            self.per_order[order_gid][name] += 1
