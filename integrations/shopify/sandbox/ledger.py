"""Figures derived from an order's facts: totals, what was paid and refunded, statuses, quantities.

Pure functions of ``Order``; mutations change facts (transactions, refunds, fulfillments) and these follow.
"""

from __future__ import annotations

from integrations.shopify.sandbox.model import ZERO_PAIR, LineItem, Order, Pair, pair_sum

PAID_KINDS = ("SALE", "CAPTURE")


def subtotal(order: Order) -> Pair:
    """Line totals after discounts, before shipping and taxes (Shopify's ``subtotalPriceSet``)."""
    return pair_sum([item.unit_price.times(item.quantity) - item.discount for item in order.line_items])


def total_tax(order: Order) -> Pair:
    return pair_sum([item.tax for item in order.line_items])


def total_discounts(order: Order) -> Pair:
    return pair_sum([item.discount for item in order.line_items])


def total_price(order: Order) -> Pair:
    return subtotal(order) + total_tax(order) + order.shipping_price


def received(order: Order) -> Pair:
    return pair_sum([t.amount for t in order.transactions if t.kind in PAID_KINDS and t.status == "SUCCESS"])


def refunded(order: Order) -> Pair:
    return pair_sum([refund.total() for refund in order.refunds])


def refunded_shipping(order: Order) -> Pair:
    return pair_sum([refund.shipping for refund in order.refunds])


def net_payment(order: Order) -> Pair:
    return received(order) - refunded(order)


def uncaptured_authorizations(order: Order) -> list[int]:
    """Ids of successful authorizations with no successful capture or void yet."""
    settled = {t.parent_id for t in order.transactions if t.kind in ("CAPTURE", "VOID") and t.status == "SUCCESS"}
    return [
        t.id for t in order.transactions if t.kind == "AUTHORIZATION" and t.status == "SUCCESS" and t.id not in settled
    ]


def capturable(order: Order) -> Pair:
    auth = set(uncaptured_authorizations(order))
    return pair_sum([t.amount for t in order.transactions if t.id in auth])


def refunded_quantity(order: Order, item: LineItem) -> int:
    return sum(line.quantity for refund in order.refunds for line in refund.lines if line.line_item_id == item.id)


def fulfilled_quantity(order: Order, item: LineItem) -> int:
    return sum(
        qty for f in order.fulfillments if f.status == "SUCCESS" for (_, line_id, qty) in f.lines if line_id == item.id
    )


def current_quantity(order: Order, item: LineItem) -> int:
    return item.quantity - refunded_quantity(order, item)


def unfulfilled_quantity(order: Order, item: LineItem) -> int:
    if order.cancelled_at is not None:
        return 0
    return max(0, current_quantity(order, item) - fulfilled_quantity(order, item))


def current_total(order: Order) -> Pair:
    """The total after refunded line items and shipping are taken out."""
    removed = pair_sum([line.subtotal + line.tax for refund in order.refunds for line in refund.lines])
    return total_price(order) - removed - refunded_shipping(order)


def outstanding(order: Order) -> Pair:
    due = current_total(order) - net_payment(order)
    return Pair(max(due.shop, ZERO_PAIR.shop), max(due.presentment, ZERO_PAIR.presentment))


def financial_status(order: Order) -> str:
    """OrderDisplayFinancialStatus from the transactions."""
    paid, back = received(order).shop, refunded(order).shop
    if paid == 0:
        if any(t.kind == "VOID" and t.status == "SUCCESS" for t in order.transactions):
            return "VOIDED"
        return "AUTHORIZED" if uncaptured_authorizations(order) else "PENDING"
    if back >= paid:
        return "REFUNDED"
    if back > 0:
        return "PARTIALLY_REFUNDED"
    if paid < total_price(order).shop:
        return "PARTIALLY_PAID"
    return "PAID"


def fulfillment_status(order: Order) -> str:
    """OrderDisplayFulfillmentStatus from fulfillments and the fulfillment orders' requests."""
    wanted = sum(current_quantity(order, item) for item in order.line_items)
    shipped = sum(fulfilled_quantity(order, item) for item in order.line_items)
    if shipped and shipped >= wanted:
        return "FULFILLED"
    if shipped:
        return "PARTIALLY_FULFILLED"
    if order.cancelled_at is None:
        requests = {fo.request_status for fo in order.fulfillment_orders}
        if "REJECTED" in requests:
            return "REQUEST_DECLINED"
        if requests & {"ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"}:
            return "IN_PROGRESS"
    return "UNFULFILLED"


def rest_fulfillment_status(order: Order) -> str | None:
    """The REST ``fulfillment_status``: null, "partial" or "fulfilled"."""
    status = fulfillment_status(order)
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(status)


def is_closed(order: Order) -> bool:
    return order.closed_at is not None
