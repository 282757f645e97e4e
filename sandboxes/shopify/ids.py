"""Deterministic id spaces: an order's id and every child id derive from the order's index.

``child_id(kind, index, k) = BASE[kind] + index * SLOTS + k``, so any child gid leads back to its order
without a lookup table (``order_index_of``). At most ``SLOTS`` children of one kind per order.
"""

from __future__ import annotations

ORDER_BASE = 5_000_000_000_000
ORDER_NUMBER_BASE = 1001
SLOTS = 100
CHILD_BASES: dict[str, int] = {
    "LineItem": 13_000_000_000_000,
    "OrderTransaction": 7_000_000_000_000,
    "FulfillmentOrder": 6_000_000_000_000,
    "FulfillmentOrderLineItem": 16_000_000_000_000,
    "Fulfillment": 4_000_000_000_000,
    "FulfillmentLineItem": 17_000_000_000_000,
    "Refund": 900_000_000_000,
    "RefundLineItem": 450_000_000_000,
    "Return": 20_000_000_000_000,
    "ReturnLineItem": 21_000_000_000_000,
    "ReverseFulfillmentOrder": 22_000_000_000_000,
    "ReverseFulfillmentOrderLineItem": 23_000_000_000_000,
    "ReverseFulfillmentOrderDisposition": 24_000_000_000_000,
    "ReturnShippingFee": 25_000_000_000_000,
}
CUSTOMER_BASE = 7_500_000_000_000
PRODUCT_BASE = 8_000_000_000_000
VARIANT_BASE = 44_000_000_000_000
SERVICE_LOCATION_ID = 71_000_000_001
SHOP_LOCATION_ID = 71_000_000_000
EVENT_BASE = 98_000_000_000  # REST events (order deletions)


class TooManyChildren(Exception):
    """An order ran out of id slots for one kind of child (more than ``SLOTS``)."""


def order_id(index: int) -> int:
    return ORDER_BASE + index


def order_index(numeric_id: int) -> int:
    return numeric_id - ORDER_BASE


def child_id(kind: str, index: int, k: int) -> int:
    if not 0 <= k < SLOTS:
        raise TooManyChildren(f"order index {index} has no free {kind} id (max {SLOTS})")
    return CHILD_BASES[kind] + index * SLOTS + k


def order_index_of(kind: str, numeric_id: int) -> int | None:
    """The index of the order owning child ``numeric_id`` of ``kind``; None for an unknown kind."""
    if kind == "Order":
        return order_index(numeric_id)
    base = CHILD_BASES.get(kind)
    if base is None or numeric_id < base:
        return None
    return (numeric_id - base) // SLOTS
