"""What each webhook topic does to the ledger. Called inside the draining transaction."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.shopify.order import ShopifyOrder, parse_rest_refund, parse_rest_transaction, parse_time
from models import BulkBackfill, FulfillmentOrder, Order, WebhookDelivery
from worker import wiring
from worker.mirror import privacy
from worker.mirror.apply import apply_snapshots, queue_re_reads, record_refund
from worker.mirror.snapshot import from_rest
from worker.timeline import record_event

log = structlog.get_logger(__name__)

ORDER_TOPICS = frozenset(
    {
        "orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled", "orders/partially_fulfilled",
        "orders/paid", "orders/edited",
    }
)  # fmt: skip

TopicHandler = Callable[[Session, WebhookDelivery], None]
_handlers: dict[str, TopicHandler] = {}
_after: dict[str, list[TopicHandler]] = defaultdict(list)


def topic_handler(*topics: str) -> Callable[[TopicHandler], TopicHandler]:
    """Register the handler of one or more topics. Called by ``worker.wiring.wire()``, which lists them."""

    def register(handler: TopicHandler) -> TopicHandler:
        for topic in topics:
            _handlers[topic] = handler
        return handler

    return register


def after_topic(*topics: str) -> Callable[[TopicHandler], TopicHandler]:
    """Run ``hook`` after the mirror handled a delivery of these topics, in the same transaction.

    For features that react to Shopify (the cancellation workflow closes intents on ``refunds/create``
    and follows ``fulfillment_orders/cancellation_request_*``). Order topics are batched: react to them
    with ``worker.mirror.apply.on_orders_applied`` instead.
    """

    def register(hook: TopicHandler) -> TopicHandler:
        for topic in topics:
            if hook not in _after[topic]:
                _after[topic].append(hook)
        return hook

    return register


_wired_tables = threading.Lock()
_pulled: list[bool] = []


def _pull_wired_handlers(what: str) -> None:
    """The wired handlers (``worker.wiring.TOPIC_HANDLERS``, ``AFTER_TOPIC``), registered on first use."""
    wiring.require_wired(what)
    if _pulled:
        return
    with _wired_tables:
        if not _pulled:
            for topics, handler in wiring.topic_reactions(wiring.TOPIC_HANDLERS):
                topic_handler(*topics)(handler)
            for topics, hook in wiring.topic_reactions(wiring.AFTER_TOPIC):
                after_topic(*topics)(hook)
            _pulled.append(True)


def registered_handlers() -> dict[str, TopicHandler]:
    if wiring.is_wired():
        _pull_wired_handlers("registered_handlers")
    return dict(_handlers)


def registered_after() -> dict[str, list[TopicHandler]]:
    if wiring.is_wired():
        _pull_wired_handlers("registered_after")
    return {topic: list(hooks) for topic, hooks in _after.items() if hooks}


def handle_deliveries(session: Session, deliveries: Sequence[WebhookDelivery]) -> None:
    """In arrival order; consecutive order deliveries are applied together (one batch upsert per shop).

    Order snapshots are flushed before any other topic is handled, so a ``customers/redact`` or a
    ``refunds/create`` that arrived after an order's webhook sees that order.
    """
    _pull_wired_handlers("handle_deliveries")
    pending: dict[int, list[ShopifyOrder]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.topic in ORDER_TOPICS:
            pending[delivery.shop_id].append(from_rest(delivery.payload, triggered_at=delivery.triggered_at))
            continue
        _apply_pending(session, pending)
        handler = _handlers.get(delivery.topic)
        if handler is None and not _after.get(delivery.topic):
            log.info("webhook topic not handled; recorded only", topic=delivery.topic)
        if handler is not None:
            handler(session, delivery)
        for hook in _after.get(delivery.topic, ()):
            hook(session, delivery)
    _apply_pending(session, pending)


def _apply_pending(session: Session, pending: dict[int, list[ShopifyOrder]]) -> None:
    for shop_id, snapshots in pending.items():
        queue_re_reads(session, shop_id, apply_snapshots(session, shop_id, snapshots))
    pending.clear()


def _order_id(session: Session, shop_id: int, gid: str | None) -> int | None:
    if not gid:
        return None
    return session.scalar(select(Order.id).where(Order.shop_id == shop_id, Order.shopify_gid == gid))


def refund_created(session: Session, delivery: WebhookDelivery) -> None:
    """A refund arrives as its own REST JSON; the order's next snapshot carries its totals.

    The refund's money is recorded now (unique source refs make the later order snapshot a no-op).
    If the order is not in the ledger yet, reconciliation brings both.
    """
    payload = delivery.payload
    order_gid = f"gid://shopify/Order/{payload.get('order_id')}"
    order = session.scalar(select(Order).where(Order.shop_id == delivery.shop_id, Order.shopify_gid == order_gid))
    if order is None:
        log.info("refund for an order not mirrored yet; reconciliation will bring it", order=order_gid)
        return
    refund = parse_rest_refund(payload, order.currency)
    txns = [parse_rest_transaction(t, order.currency) for t in payload.get("transactions") or []]
    record_refund(session, delivery.shop_id, order.id, refund, txns)
    record_event(
        session, shop_id=delivery.shop_id, order_id=order.id, kind="order.refund_created", actor="shopify:webhook",
        message=f"Refund of {refund.total_refunded} {order.currency} created on Shopify", data={"refund": refund.gid},
    )  # fmt: skip


def fulfillment_order_changed(session: Session, delivery: WebhookDelivery) -> None:
    """Update the fulfillment order's status and request status if we hold it; timeline the change."""
    body = delivery.payload
    node = body.get("fulfillment_order") or body.get("original_fulfillment_order") or {}
    gid = node.get("id")
    row = session.scalar(select(FulfillmentOrder).where(FulfillmentOrder.shopify_gid == gid)) if gid else None
    if row is None:
        log.info("fulfillment order not mirrored yet", fulfillment_order=gid, topic=delivery.topic)
        return
    # Webhook bodies say "in_progress"; GraphQL says "IN_PROGRESS": the ledger keeps GraphQL's enum form.
    row.status = str(node.get("status") or row.status).upper()
    row.request_status = str(node.get("request_status") or row.request_status).upper()
    row.shopify_updated_at = parse_time(delivery.payload.get("updated_at")) or row.shopify_updated_at
    record_event(
        session, shop_id=delivery.shop_id, order_id=row.order_id, kind="fulfillment_order.changed",
        actor="shopify:webhook", message=f"Fulfillment order {row.status}/{row.request_status} ({delivery.topic})",
        data={"fulfillment_order": gid, "topic": delivery.topic, "message": body.get("message")},
    )  # fmt: skip


def order_deleted(session: Session, delivery: WebhookDelivery) -> None:
    order_id = _order_id(session, delivery.shop_id, f"gid://shopify/Order/{delivery.payload.get('id')}")
    if order_id is not None:
        record_event(
            session, shop_id=delivery.shop_id, order_id=order_id, kind="order.deleted", actor="shopify:webhook",
            message="Order deleted on Shopify; the ledger keeps its history",
        )  # fmt: skip


def bulk_finished(session: Session, delivery: WebhookDelivery) -> None:
    gid = delivery.payload.get("admin_graphql_api_id")
    status = str(delivery.payload.get("status") or "").lower()
    session.execute(
        update(BulkBackfill)
        .where(BulkBackfill.bulk_operation_gid == gid, BulkBackfill.status.in_(("created", "running")))
        .values(status="finished" if status == "completed" else status, error=delivery.payload.get("error_code"))
    )


def customer_redact(session: Session, delivery: WebhookDelivery) -> None:
    privacy.redact_customer(session, delivery.shop_id, delivery.payload)


def shop_redact(session: Session, delivery: WebhookDelivery) -> None:
    privacy.redact_shop(session, delivery.shop_id)


def data_request(session: Session, delivery: WebhookDelivery) -> None:
    held = privacy.orders_of_customer(session, delivery.shop_id, delivery.payload)
    log.info("customer data request recorded", orders_held=len(held), delivery=delivery.delivery_id)
