"""How the workflow hears about the world: supplier changes, mirrored orders, Shopify webhooks.

Registered by ``worker.wiring`` (the one table of who reacts to what), never by importing this module.

All hooks run inside the caller's transaction (the supplier service's, the inbox drain's): they only
flush and enqueue through the outbox. Each is a cheap no-op for orders without a request or intent.

- supplier change → the request follows its supplier orders (IN_CANCEL seen → supplier cancellation
  requested; closed cancelled → confirmed → Shopify action; tracking → shipped → a return; a request
  answered with "awaiting shipment" again → refused);
- an order applied with ``cancelledAt`` (orders/cancelled, a reconcile, our own re-read) → its live
  ``order_cancel`` intent is closed as succeeded;
- ``refunds/create`` whose note carries an intent's key → that ``refund_create`` intent is closed;
- ``fulfillment_orders/cancellation_request_accepted|rejected`` → the request waiting on the service
  advances; ``…_submitted`` by the merchant (not by us) → a new request (source ``fulfillment_service``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import CancellationRequest, FulfillmentOrder, Order, ShopifyIntent, SupplierOrder, WebhookDelivery
from models.cancellation import LIVE_INTENT_STATES
from worker.cancellation import intents as ik
from worker.cancellation import service
from worker.cancellation import states as s
from worker.db.bulk import any_of
from worker.errors import DropsyncError
from worker.mirror.apply import AppliedOrder
from worker.timeline import record_event

FOLLOWING = (s.REQUESTED, s.SUPPLIER_CANCEL_REQUESTED, s.SUPPLIER_REFUSED)


def follow_supplier_change(session: Session, so: SupplierOrder, old_state: str, new_state: str) -> None:
    if so.order_id is None:
        return
    request = session.scalar(
        select(CancellationRequest).where(
            CancellationRequest.order_id == so.order_id, CancellationRequest.state.in_(FOLLOWING)
        )
    )
    if request is None:
        return
    refused = old_state == st.CANCELLATION_REQUESTED and new_state in (st.AWAITING_SHIPMENT, st.RISK_CHECK)
    service.follow_supplier(session, request, actor=f"supplier:{so.supplier_order_id}", refused=refused)


def close_cancel_intents(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    cancelled = [a.order_id for a in applied if a.snapshot.cancelled_at is not None]
    if not cancelled:
        return
    live = session.scalars(
        select(ShopifyIntent).where(
            any_of(session, ShopifyIntent.order_id, cancelled, Integer),
            ShopifyIntent.kind == ik.IntentKind.ORDER_CANCEL,
            ShopifyIntent.state.in_(LIVE_INTENT_STATES),
        )
    ).all()
    for intent in live:
        gid = intent.params.get("order_gid", "")
        if ik.mark_succeeded(session, intent, [gid], actor="shopify", how="closed by the order showing cancelled"):
            _advance(session, intent)


def close_refund_intent(session: Session, delivery: WebhookDelivery) -> None:
    note = str(delivery.payload.get("note") or "")
    if "[dropsync-" not in note:
        return
    key = note[note.index("[dropsync-") + 1 :].split("]", 1)[0]
    intent = session.scalar(select(ShopifyIntent).where(ShopifyIntent.idempotency_key == key))
    if intent is None:
        return
    refund_gid = delivery.payload.get("admin_graphql_api_id") or f"gid://shopify/Refund/{delivery.payload.get('id')}"
    if ik.mark_succeeded(session, intent, [str(refund_gid)], actor="shopify:webhook", how="closed by refunds/create"):
        _advance(session, intent)


def fulfillment_service_answered(session: Session, delivery: WebhookDelivery) -> None:
    node = delivery.payload.get("fulfillment_order") or {}
    gid = node.get("id")
    order_id = (
        session.scalar(select(FulfillmentOrder.order_id).where(FulfillmentOrder.shopify_gid == gid)) if gid else None
    )
    if order_id is None:
        return
    request = session.scalar(
        select(CancellationRequest).where(
            CancellationRequest.order_id == order_id, CancellationRequest.state == s.SHOPIFY_ACTION
        )
    )
    if request is not None:
        service.enqueue_advance(session, request, tag=f"fo:{delivery.id}")


def _advance(session: Session, intent: ShopifyIntent) -> None:
    if intent.cancellation_request_id is None:
        return
    request = session.get(CancellationRequest, intent.cancellation_request_id)
    if request is not None and request.state == s.SHOPIFY_ACTION:
        service.enqueue_advance(session, request, tag=f"intent:{intent.id}")


def merchant_asked_the_service_to_cancel(session: Session, delivery: WebhookDelivery) -> None:
    """The merchant asked the fulfillment service (this store's dropshipping side) to cancel in Shopify:
    that is a cancellation request too, decided by the policy like an operator's. Our own submission
    (a ``fulfillment_order_cancellation_request`` intent) is not a new request."""
    node = delivery.payload.get("fulfillment_order") or {}
    fo = session.scalar(select(FulfillmentOrder).where(FulfillmentOrder.shopify_gid == node.get("id")))
    if fo is None:
        return
    ours = session.scalars(
        select(ShopifyIntent).where(
            ShopifyIntent.order_id == fo.order_id, ShopifyIntent.kind == ik.IntentKind.CANCELLATION_REQUEST
        )
    ).all()
    if any(i.params.get("fulfillment_order_gid") == fo.shopify_gid for i in ours):
        return
    order = session.get_one(Order, fo.order_id)
    if order.cancelled_at is not None or service.open_request(session, order.id) is not None:
        return
    message = str(delivery.payload.get("message") or "") or None
    try:
        service.create_request(
            session, order, reason="other", actor="shopify:webhook", source=service.FULFILLMENT_SERVICE, note=message
        )
    except DropsyncError as exc:  # a refusal must not fail the webhook drain: say why on the timeline
        record_event(
            session, shop_id=order.shop_id, order_id=order.id, kind="cancellation.not_requested",
            actor="shopify:webhook", message=f"cancellation request from Shopify not opened: {exc}",
        )  # fmt: skip
