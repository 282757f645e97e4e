"""``POST /webhooks/shopify``: verify, store once, answer fast, then get the drain task published.

Order of checks (each refusal writes nothing): body size (413), required headers (400), header values
that fit their inbox columns (400: a delivery the database would refuse must not get a 503, which
Shopify retries forever), known shop (404; from an in-memory directory, see
``worker.mirror.shops.ShopDirectory``), HMAC of the raw body in constant time (401), JSON object (400).
Then the delivery is inserted with ``ON CONFLICT DO NOTHING`` on its ``X-Shopify-Webhook-Id`` and
committed before the 200.

The drain task is published *after* the commit, never inside the transaction (a task could run before
the row is visible, or the message be lost after a commit). Publishes are coalesced: one message per
short window drains every delivery committed before it. If a publish fails (broker down), the beat
sweeper (``mirror.drain_inbox`` on a schedule) drains what is left: nothing stored is ever lost.
"""

from __future__ import annotations

import asyncio
import functools

import orjson
import structlog
from celery import Celery
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from integrations.shopify.order import parse_time
from integrations.shopify.webhooks import verify
from models import WebhookDelivery
from worker.db import get_engine
from worker.mirror.inbox import IncomingDelivery, store_deliveries
from worker.mirror.shops import ShopDirectory, ShopsUnavailable
from worker.observability.labels import CappedLabels
from worker.observability.metrics import WEBHOOKS_DUPLICATE, WEBHOOKS_RECEIVED, WEBHOOKS_REJECTED
from worker.settings import get_settings

log = structlog.get_logger(__name__)

REQUIRED_HEADERS = ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-webhook-id")
DRAIN_TASK = "mirror.drain_inbox"


def _column_length(column: str) -> int:
    length = getattr(WebhookDelivery.__table__.c[column].type, "length", None)
    assert isinstance(length, int), f"webhook_inbox.{column} has no length"
    return length


#: Header → the longest value its inbox column holds (PostgreSQL refuses longer ones at insert time).
HEADER_LIMITS = {
    "x-shopify-webhook-id": _column_length("delivery_id"),
    "x-shopify-topic": _column_length("topic"),
    "x-shopify-event-id": _column_length("event_id"),
    "x-shopify-api-version": _column_length("api_version"),
}
#: Topics come from signed deliveries only, but a label per distinct value is still capped.
topic_label = CappedLabels(cap=64)


class DrainPublisher:
    """Coalesces "drain the inbox" messages: at most one per window, always after the caller's commit."""

    window_seconds = 0.02

    def __init__(self) -> None:
        self._scheduled = False

    def poke(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_later(self.window_seconds, self._fire)

    def _fire(self) -> None:
        self._scheduled = False
        task = asyncio.get_running_loop().run_in_executor(None, _publish_drain)
        task.add_done_callback(lambda _: None)


@functools.cache
def _celery() -> Celery:
    from worker.celery_app import app

    return app


def _publish_drain() -> None:
    try:
        _celery().send_task(DRAIN_TASK)
    except Exception as exc:  # (the beat sweeper drains what a failed publish left)
        log.warning("could not publish the inbox drain; the sweeper will pick it up", error=str(exc))


shops = ShopDirectory()
publisher = DrainPublisher()


def _reject(reason: str, status: int, message: str) -> Response:
    WEBHOOKS_REJECTED.labels(reason).inc()
    log.info("webhook rejected", reason=reason, status=status)
    return JSONResponse({"error": message}, status_code=status)


async def _read_capped(request: Request, cap: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)


async def shopify_webhook(request: Request) -> Response:
    body = await _read_capped(request, get_settings().webhook_max_body_bytes)
    if body is None:
        return _reject("too_large", 413, "body too large")
    missing = [h for h in REQUIRED_HEADERS if not request.headers.get(h)]
    if missing:
        return _reject("missing_header", 400, f"missing header {missing[0]}")
    too_long = [h for h, limit in HEADER_LIMITS.items() if len(request.headers.get(h, "")) > limit]
    if too_long:
        return _reject("bad_header", 400, f"header {too_long[0]} longer than {HEADER_LIMITS[too_long[0]]} characters")
    try:
        shop = await shops.lookup(request.headers["x-shopify-shop-domain"])
    except ShopsUnavailable:
        return _reject("unavailable", 503, "could not read the shops; retry")
    if shop is None:
        return _reject("unknown_shop", 404, "unknown shop")
    received = request.headers.get("x-shopify-hmac-sha256", "")
    if not shop.secret or not received or not verify(shop.secret, body, received):
        return _reject("bad_hmac", 401, "HMAC verification failed")
    if not _is_json_object(body):
        return _reject("bad_json", 400, "body is not a JSON object")
    delivery = _delivery(request, shop.id, body.decode())
    if delivery is None:
        return _reject("bad_header", 400, "X-Shopify-Triggered-At is not a timestamp")
    return await _store(delivery)


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(orjson.loads(body), dict)
    except orjson.JSONDecodeError:  # also raised for invalid UTF-8
        return False


def _delivery(request: Request, shop_id: int, body: str) -> IncomingDelivery | None:
    try:
        triggered = parse_time(request.headers.get("x-shopify-triggered-at"))
    except ValueError:
        return None
    return IncomingDelivery(
        shop_id=shop_id,
        delivery_id=request.headers["x-shopify-webhook-id"],
        topic=request.headers["x-shopify-topic"],
        body=body,
        event_id=request.headers.get("x-shopify-event-id"),
        api_version=request.headers.get("x-shopify-api-version"),
        triggered_at=triggered,
    )


class InboxWriter:
    """Group commit: deliveries that arrive together are inserted in one transaction.

    Each request still gets its 200 only after *its* row is committed; what is shared is the round trip
    and the WAL flush. While one batch is being written, new arrivals queue up and form the next one.
    If a batch fails (say one payload the database refuses), its rows are retried one by one so only
    the bad delivery gets a 5xx (and Shopify's retry); the others are stored.
    """

    max_batch = 256

    def __init__(self) -> None:
        self._queue: list[tuple[IncomingDelivery, asyncio.Future[bool]]] = []
        self._flushing = False

    async def store(self, delivery: IncomingDelivery) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((delivery, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._write(batch)
        finally:
            self._flushing = False

    async def _write(self, batch: list[tuple[IncomingDelivery, asyncio.Future[bool]]]) -> None:
        try:
            new = await run_in_threadpool(_store_batch, [d for d, _ in batch])
        except Exception:
            log.warning("inbox batch insert failed; storing its deliveries one by one", size=len(batch))
            for item in batch:
                await self._write_one(*item)
            return
        for delivery, future in batch:
            # The first copy of an id in this batch is the new one; later copies are duplicates.
            is_new = delivery.delivery_id in new
            new.discard(delivery.delivery_id)
            future.set_result(is_new)

    async def _write_one(self, delivery: IncomingDelivery, future: asyncio.Future[bool]) -> None:
        try:
            future.set_result(bool(await run_in_threadpool(_store_batch, [delivery])))
        except Exception as exc:
            future.set_exception(exc)


def _store_batch(deliveries: list[IncomingDelivery]) -> set[str]:
    with get_engine().begin() as connection:  # Core only: no ORM session to set up for an insert
        return store_deliveries(connection, deliveries)


writer = InboxWriter()


async def _store(delivery: IncomingDelivery) -> Response:
    try:
        is_new = await writer.store(delivery)  # committed when this returns
    except Exception as exc:
        log.error("could not store webhook delivery", error=type(exc).__name__)
        return JSONResponse({"error": "could not store the delivery; retry"}, status_code=503)
    if not is_new:
        WEBHOOKS_DUPLICATE.labels(topic_label(delivery.topic)).inc()
        return JSONResponse({"status": "duplicate"})
    WEBHOOKS_RECEIVED.labels(topic_label(delivery.topic)).inc()
    publisher.poke()
    return JSONResponse({"status": "accepted"})


async def on_startup() -> None:
    """Know the configured shop (and every active one) before the first delivery arrives."""
    await shops.warm()


routes: list[BaseRoute] = [Route("/webhooks/shopify", shopify_webhook, methods=["POST"])]
