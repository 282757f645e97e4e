"""Webhook delivery the way Shopify does it: signed POSTs, retries with backoff, no ordering guarantee.

Each delivery carries ``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body
with the app's client secret), ``X-Shopify-Shop-Domain``, ``X-Shopify-API-Version``, ``X-Shopify-Webhook-Id``
(unique per delivery; a retry or a duplicated delivery keeps it), ``X-Shopify-Event-Id`` (shared by the
deliveries of one change) and ``X-Shopify-Triggered-At``. Anything but 2xx, a connect failure (1 s) or no
answer within 5 s is a failure, retried after ``config.webhook_backoff`` (Shopify: 8 times over ~4 hours).
Fault switches may drop, duplicate or reorder deliveries.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations.shopify.webhooks import sign
from sandboxes.shopify.config import SandboxConfig
from sandboxes.shopify.faults import Faults

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

# GraphQL WebhookSubscriptionTopic -> the REST topic in X-Shopify-Topic. Only topics the sandbox fires: a
# subscription to any other is refused ("not supported by the sandbox") rather than silently never called.
TOPICS: dict[str, str] = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_DELETE": "orders/delete",
    "REFUNDS_CREATE": "refunds/create",
    "BULK_OPERATIONS_FINISH": "bulk_operations/finish",
    "DISPUTES_CREATE": "disputes/create",
    "DISPUTES_UPDATE": "disputes/update",
    "FULFILLMENTS_CREATE": "fulfillments/create",
    "FULFILLMENT_ORDERS_CANCELLED": "fulfillment_orders/cancelled",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_SUBMITTED": "fulfillment_orders/cancellation_request_submitted",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_ACCEPTED": "fulfillment_orders/cancellation_request_accepted",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_REJECTED": "fulfillment_orders/cancellation_request_rejected",
    "FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_SUBMITTED": "fulfillment_orders/fulfillment_request_submitted",
    "FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_ACCEPTED": "fulfillment_orders/fulfillment_request_accepted",
    "FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_REJECTED": "fulfillment_orders/fulfillment_request_rejected",
    "RETURNS_REQUEST": "returns/request",
    "RETURNS_APPROVE": "returns/approve",
    "RETURNS_DECLINE": "returns/decline",
    "RETURNS_CANCEL": "returns/cancel",
    "RETURNS_CLOSE": "returns/close",
    "RETURNS_PROCESS": "returns/process",
    "RETURNS_REOPEN": "returns/reopen",
    "RETURNS_UPDATE": "returns/update",
}
REST_TOPICS = {rest: enum for enum, rest in TOPICS.items()}


def urls_for(sandbox: ShopifySandbox, rest_topic: str) -> list[str]:
    """Callback URLs subscribed to ``rest_topic`` (e.g. ``orders/updated``)."""
    return [s.uri for s in sandbox.state.subscriptions.values() if TOPICS.get(s.topic) == rest_topic]


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    url: str
    body: bytes
    triggered_at: str
    attempts: int = 0


@dataclass
class Attempt:
    """One try of one delivery, as the control API reports it."""

    webhook_id: str
    event_id: str
    topic: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    at: float
    outcome: str  # delivered, failed, retrying, dropped
    payload: dict[str, Any] = field(default_factory=dict)


class WebhookDispatcher:
    """A scheduler thread sending due deliveries one at a time (heap ordered by due time)."""

    def __init__(self, config: SandboxConfig, faults: Faults) -> None:
        self._config = config
        self._faults = faults
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._in_flight = 0
        self.attempts: list[Attempt] = []

    def start(self) -> None:
        with self._cv:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="shopify-sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self._thread = None

    def clear(self) -> None:
        with self._cv:
            self._heap.clear()
            self.attempts.clear()

    def emit(self, topic: str, payload: dict[str, Any], urls: list[str], event_id: str | None = None) -> list[str]:
        """Queue one delivery of ``payload`` per URL; returns the webhook ids (dropped ones included)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        event = event_id or str(uuid.uuid4())
        triggered = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        made = []
        for url in urls:
            delivery = Delivery(str(uuid.uuid4()), event, topic, url, body, triggered)
            made.append(delivery.webhook_id)
            self._admit(delivery, payload)
        return made

    def _admit(self, delivery: Delivery, payload: dict[str, Any]) -> None:
        faults = self._faults
        if faults.roll(faults.config.webhook_drop_rate):
            self._log(delivery, None, "dropped by fault switch", "dropped", payload)
            return
        copies = 2 if faults.roll(faults.config.webhook_duplicate_rate) else 1
        for _ in range(copies):
            self._schedule(Delivery(**{**delivery.__dict__}), self._admission_delay())
        self.start()

    def _admission_delay(self) -> float:
        config = self._faults.config
        if not config.webhook_out_of_order:
            return 0.0
        # Seeded jitter inside the window: deliveries leave in a different order than the changes.
        return self._faults.uniform(config.webhook_reorder_window_seconds)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))
            self._cv.notify_all()

    def wait_idle(self, timeout: float = 10.0, horizon: float = 60.0) -> bool:
        """Block until nothing is due within ``horizon`` seconds and nothing is in flight."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._in_flight or (self._heap and self._heap[0][0] < time.monotonic() + horizon):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
        return True

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._in_flight

    def _loop(self) -> None:
        timeout = httpx.Timeout(
            self._config.webhook_timeout_seconds, connect=self._config.webhook_connect_timeout_seconds
        )
        with httpx.Client(timeout=timeout) as client:
            while True:
                delivery = self._next_due()
                if delivery is None:
                    return
                try:
                    self._send(client, delivery)
                finally:
                    with self._cv:
                        self._in_flight -= 1
                        self._cv.notify_all()

    def _next_due(self) -> Delivery | None:
        with self._cv:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - now if self._heap else 0.5
                self._cv.wait(min(wait, 0.5))
            return None

    def _send(self, client: httpx.Client, delivery: Delivery) -> None:
        delivery.attempts += 1
        status, error = None, None
        try:
            response = client.post(delivery.url, content=delivery.body, headers=self._headers(delivery))
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status is not None and 200 <= status < 300:
            self._log(delivery, status, None, "delivered")
            return
        backoff = self._config.webhook_backoff
        if delivery.attempts <= len(backoff):
            self._log(delivery, status, error, "retrying")
            self._schedule(delivery, backoff[delivery.attempts - 1])
        else:
            self._log(delivery, status, error, "failed")

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(self._config.client_secret, delivery.body),
            "X-Shopify-Shop-Domain": self._config.shop_domain,
            "X-Shopify-API-Version": self._config.api_version,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
        }

    def _log(
        self, delivery: Delivery, status: int | None, error: str | None, outcome: str, payload: Any = None
    ) -> None:
        record = Attempt(
            delivery.webhook_id,
            delivery.event_id,
            delivery.topic,
            delivery.url,
            delivery.attempts,
            status,
            error,
            time.time(),
            outcome,
            payload if payload is not None else json.loads(delivery.body),
        )
        with self._cv:
            self.attempts.append(record)
