"""Emit the webhooks for a change: one event id shared by every topic the change triggers."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ledger, payloads
from sandboxes.shopify.model import Fulfillment, FulfillmentOrder, Order, Refund, Return
from sandboxes.shopify.webhooks import urls_for

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


def order_changed(sandbox: ShopifySandbox, order: Order, topics: list[str], event_id: str | None = None) -> str:
    """Emit order topics (always ``orders/updated`` too). Returns the event id."""
    event = event_id or str(uuid.uuid4())
    body = payloads.order_json(sandbox.state, order)
    for topic in dict.fromkeys([*topics, "orders/updated"]):
        _emit(sandbox, topic, body, event)
    return event


def fulfillment_status_topics(before: str, order: Order) -> list[str]:
    """``orders/fulfilled`` or ``orders/partially_fulfilled`` when the fulfillment status just moved there."""
    after = ledger.fulfillment_status(order)
    if after == before:
        return []
    return {"FULFILLED": ["orders/fulfilled"], "PARTIALLY_FULFILLED": ["orders/partially_fulfilled"]}.get(after, [])


def refund_created(sandbox: ShopifySandbox, order: Order, refund: Refund, event_id: str) -> None:
    _emit(sandbox, "refunds/create", payloads.refund_json(order, refund), event_id)


def return_changed(sandbox: ShopifySandbox, order: Order, found: Return, topics: list[str], event_id: str) -> None:
    """``returns/<topic>`` for each of ``topics``, then ``returns/update`` (every change of a return)."""
    body = payloads.return_json(order, found)
    for topic in dict.fromkeys([*topics, "update"]):
        _emit(sandbox, f"returns/{topic}", body, event_id)


def fulfillment_order_event(
    sandbox: ShopifySandbox, topic: str, order: Order, fo: FulfillmentOrder, event_id: str, **extra: Any
) -> None:
    _emit(sandbox, f"fulfillment_orders/{topic}", payloads.fulfillment_order_json(order, fo, **extra), event_id)


def fulfillment_created(sandbox: ShopifySandbox, order: Order, fulfillment: Fulfillment, event_id: str) -> None:
    _emit(sandbox, "fulfillments/create", payloads.fulfillment_json(order, fulfillment), event_id)


def order_deleted(sandbox: ShopifySandbox, order: Order) -> None:
    _emit(sandbox, "orders/delete", {"id": order.id}, str(uuid.uuid4()))


def bulk_finished(sandbox: ShopifySandbox, body: dict[str, Any]) -> None:
    _emit(sandbox, "bulk_operations/finish", body, str(uuid.uuid4()))


def _emit(sandbox: ShopifySandbox, topic: str, body: dict[str, Any], event_id: str) -> None:
    urls = urls_for(sandbox, topic)
    if urls:
        sandbox.webhooks.emit(topic, body, urls, event_id)
