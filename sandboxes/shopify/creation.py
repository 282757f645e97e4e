"""Orders created through the control API: realistic like seeded ones, timestamped now, caller-shaped."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sandboxes.shopify import ids
from sandboxes.shopify.generator import SCENARIOS, build_order, count_children
from sandboxes.shopify.model import FulfillmentOrder, Order

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState

# Friendly names for the generator's scenarios.
STATES = {
    "paid": "paid_unsubmitted",
    "unfulfilled": "paid_unsubmitted",
    "submitted": "paid_submitted",
    "accepted": "paid_accepted",
    "in_progress": "paid_accepted",
    "rejected": "rejected",
    "partially_fulfilled": "partially_fulfilled",
    "fulfilled": "fulfilled",
    "authorized": "authorized",
    "pending": "pending",
    "partially_refunded": "partially_refunded",
    "cancelled": "cancelled",
}

#: Lines of a created order at most: past the catalogue's 12 products a long order repeats them (each
#: order has ``ids.SLOTS`` ids for each kind of child, and a line may have one of each).
MAX_LINE_ITEMS = 50

#: Scenarios whose fulfillment order nothing has shipped from nor closed: the ones an order can be split in.
SPLITTABLE = frozenset({"paid_unsubmitted", "paid_submitted", "paid_accepted", "rejected", "authorized", "pending"})


def build_created_order(
    state: ShopState,
    index: int,
    status: str = "paid",
    line_items: int | None = 2,
    aliexpress_order_id: str | None = None,
    note: str | None = None,
    tags: list[str] | None = None,
    fulfillment_orders: int = 1,
) -> Order:
    """A new order at ``index`` in ``status`` (see ``STATES`` or a generator scenario name).

    ``aliexpress_order_id`` (digits) sets the note attribute the AliExpress side links by.
    ``fulfillment_orders``: its lines split over that many fulfillment orders, each in the status's state
    (as Shopify's ``fulfillmentOrderSplit`` leaves an order: same location, the lines shared out), for an
    order nothing has shipped from yet.
    """
    scenario = STATES.get(status, status)
    if scenario not in dict(SCENARIOS):
        raise ValueError(f"unknown order status {status!r} (use one of {', '.join(STATES)})")
    if line_items is not None and not 1 <= line_items <= MAX_LINE_ITEMS:
        raise ValueError(f"line_items must be between 1 and {MAX_LINE_ITEMS}")
    if aliexpress_order_id is not None and not str(aliexpress_order_id).isdigit():
        raise ValueError("aliexpress_order_id must be digits")
    if fulfillment_orders < 1 or fulfillment_orders > (line_items or 2):
        raise ValueError("fulfillment_orders must be between 1 and the order's number of line items")
    if fulfillment_orders > 1 and scenario not in SPLITTABLE:
        raise ValueError(f"an order in status {status!r} cannot be split into fulfillment orders")
    now = state.clock.tick()
    rng = random.Random(state.config.seed * 7_919 + index)
    order = build_order(rng, index, now, now, state.config.shop_currency, scenario, line_items)
    order.created_at = order.updated_at = now
    if aliexpress_order_id is not None:
        order.note_attributes = [kv for kv in order.note_attributes if kv[0] != "aliexpress_order_id"]
        order.note_attributes.append(("aliexpress_order_id", str(aliexpress_order_id)))
    if note is not None:
        order.note = note
    if tags is not None:
        order.tags = list(tags)
    if fulfillment_orders > 1:
        _split(order, fulfillment_orders)
    return order


def _split(order: Order, parts: int) -> None:
    """Share the order's one fulfillment order's lines out over ``parts`` fulfillment orders (in order)."""
    (whole,) = order.fulfillment_orders
    size, extra = divmod(len(whole.lines), parts)
    pieces: list[FulfillmentOrder] = []
    start = 0
    for k in range(parts):
        end = start + size + (1 if k < extra else 0)
        fo_id = whole.id if k == 0 else ids.child_id("FulfillmentOrder", order.index, k)
        pieces.append(FulfillmentOrder(
            fo_id, whole.status, whole.request_status, whole.location_id, whole.location_name,
            whole.created_at, whole.updated_at, whole.lines[start:end], whole.is_service,
        ))  # fmt: skip
        start = end
    order.fulfillment_orders = pieces
    count_children(order)
