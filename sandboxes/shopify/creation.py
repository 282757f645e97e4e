"""Orders created through the control API: realistic like seeded ones, timestamped now, caller-shaped."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sandboxes.shopify.generator import SCENARIOS, build_order
from sandboxes.shopify.model import Order

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


def build_created_order(
    state: ShopState,
    index: int,
    status: str = "paid",
    line_items: int | None = 2,
    aliexpress_order_id: str | None = None,
    note: str | None = None,
    tags: list[str] | None = None,
) -> Order:
    """A new order at ``index`` in ``status`` (see ``STATES`` or a generator scenario name).

    ``aliexpress_order_id`` (digits) sets the note attribute the AliExpress side links by.
    """
    scenario = STATES.get(status, status)
    if scenario not in dict(SCENARIOS):
        raise ValueError(f"unknown order status {status!r} (use one of {', '.join(STATES)})")
    if line_items is not None and not 1 <= line_items <= 12:
        raise ValueError("line_items must be between 1 and 12")
    if aliexpress_order_id is not None and not str(aliexpress_order_id).isdigit():
        raise ValueError("aliexpress_order_id must be digits")
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
    return order
