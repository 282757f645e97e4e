"""Refund arithmetic shared by ``refundCreate``, ``Order.suggestedRefund`` and ``orderCancel``.

Rules: a line item can be refunded up to its current quantity; ``CANCEL`` restocking only for unfulfilled
units; shipping up to what is left of it; each refund transaction names a successful SALE/CAPTURE of the
order as ``parentId`` and may not exceed what is left of that parent; the total may not exceed the net
payment (no over-refund). Amounts are in the shop currency, or in the presentment currency when
``currency`` names it (converted at the order's own rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandboxes.shopify import ledger
from sandboxes.shopify.model import CENT, ZERO, LineItem, Order, Pair, RefundLine, Transaction, pair_sum


class RefundRefused(ValueError):
    """Input that Shopify refuses with a userError: ``field`` path and message."""

    def __init__(self, field_path: list[str], message: str) -> None:
        super().__init__(message)
        self.field = field_path
        self.message = message


@dataclass
class RefundPlan:
    """What a refund would do (also what ``suggestedRefund`` shows)."""

    lines: list[RefundLine] = field(default_factory=list)
    shipping: Pair = field(default_factory=lambda: Pair(ZERO, ZERO))
    shipping_refundable: Pair = field(default_factory=lambda: Pair(ZERO, ZERO))
    transactions: list[tuple[Transaction, Pair, Pair]] = field(default_factory=list)  # (parent, amount, maximum)

    @property
    def subtotal(self) -> Pair:
        return pair_sum([line.subtotal for line in self.lines])

    @property
    def tax(self) -> Pair:
        return pair_sum([line.tax for line in self.lines])

    @property
    def amount(self) -> Pair:
        return self.subtotal + self.tax + self.shipping

    @property
    def maximum_refundable(self) -> Pair:
        return pair_sum([maximum for _, _, maximum in self.transactions])


def unit_net(item: LineItem) -> Pair:
    """One unit's price after its share of discounts."""
    net = item.unit_price.times(item.quantity) - item.discount
    return Pair((net.shop / item.quantity).quantize(CENT), (net.presentment / item.quantity).quantize(CENT))


def unit_tax(item: LineItem) -> Pair:
    return Pair((item.tax.shop / item.quantity).quantize(CENT), (item.tax.presentment / item.quantity).quantize(CENT))


def refund_line(order: Order, item: LineItem, quantity: int, restock: str, line_id: int) -> RefundLine:
    """The last units of a line take the rounding remainder, so a full refund matches the line exactly."""
    remaining = ledger.current_quantity(order, item)
    if quantity == remaining:
        paid_subtotal = pair_sum([x.subtotal for r in order.refunds for x in r.lines if x.line_item_id == item.id])
        paid_tax = pair_sum([x.tax for r in order.refunds for x in r.lines if x.line_item_id == item.id])
        subtotal = item.unit_price.times(item.quantity) - item.discount - paid_subtotal
        return RefundLine(line_id, item.id, quantity, restock, subtotal, item.tax - paid_tax)
    return RefundLine(
        line_id, item.id, quantity, restock, unit_net(item).times(quantity), unit_tax(item).times(quantity)
    )


def refundable_parents(order: Order) -> list[tuple[Transaction, Pair]]:
    """Successful SALE/CAPTURE transactions with what is left to refund on each."""
    refunded_by_parent: dict[int, Pair] = {}
    for refund in order.refunds:
        for t in refund.transactions:
            if t.status == "SUCCESS" and t.parent_id is not None:
                refunded_by_parent[t.parent_id] = refunded_by_parent.get(t.parent_id, Pair(ZERO, ZERO)) + t.amount
    parents = [t for t in order.transactions if t.kind in ledger.PAID_KINDS and t.status == "SUCCESS"]
    return [(t, t.amount - refunded_by_parent.get(t.id, Pair(ZERO, ZERO))) for t in parents]


def shipping_left(order: Order) -> Pair:
    return order.shipping_price - ledger.refunded_shipping(order)


def allocate(order: Order, total: Pair) -> list[tuple[Transaction, Pair, Pair]]:
    """Spread ``total`` over the refundable parents, oldest first."""
    left = total
    result = []
    for parent, available in refundable_parents(order):
        share = Pair(min(left.shop, available.shop), min(left.presentment, available.presentment))
        if available.shop > 0:
            result.append((parent, share, available))
        left = left - share
    return result


def suggest_refund(
    order: Order,
    refundLineItems: list[dict[str, Any]] | None = None,
    refundShipping: bool | None = None,
    shippingAmount: str | None = None,
    suggestFullRefund: bool | None = False,
    **_: Any,
) -> RefundPlan:
    """``Order.suggestedRefund``: amounts for the given lines (or everything) and how to pay them back."""
    plan = RefundPlan()
    wanted = refundLineItems or []
    if suggestFullRefund:
        wanted = [
            {"lineItemId": f"gid://shopify/LineItem/{i.id}", "quantity": ledger.current_quantity(order, i)}
            for i in order.line_items
        ]
        refundShipping = True
    plan.lines = plan_lines(order, wanted)
    plan.shipping_refundable = shipping_left(order)
    plan.shipping = (
        plan.shipping_refundable if refundShipping else parse_pair(order, shippingAmount, None, ["shippingAmount"])
    )
    net = ledger.net_payment(order)
    capped = Pair(min(plan.amount.shop, net.shop), min(plan.amount.presentment, net.presentment))
    plan.transactions = allocate(order, capped)
    return plan


def plan_lines(order: Order, wanted: list[dict[str, Any]]) -> list[RefundLine]:
    """Validated refund lines (ids 0: the caller mints real ones when applying)."""
    lines = []
    for position, entry in enumerate(wanted):
        path = ["refundLineItems", str(position)]
        item = _line_item(order, str(entry.get("lineItemId", "")), path)
        quantity = int(entry.get("quantity", 0))
        restock = entry.get("restockType") or (
            "CANCEL" if ledger.unfulfilled_quantity(order, item) >= quantity else "RETURN"
        )
        _check_quantity(order, item, quantity, restock, path)
        lines.append(refund_line(order, item, quantity, restock, 0))
    return lines


def _line_item(order: Order, value: str, path: list[str]) -> LineItem:
    numeric = value.rsplit("/", 1)[-1]
    item = order.line_item(int(numeric)) if numeric.isdigit() else None
    if item is None:
        raise RefundRefused([*path, "lineItemId"], f"Line item {value} does not belong to order {order.name}")
    return item


def _check_quantity(order: Order, item: LineItem, quantity: int, restock: str, path: list[str]) -> None:
    if quantity <= 0:
        raise RefundRefused([*path, "quantity"], "Quantity must be greater than 0")
    if quantity > ledger.current_quantity(order, item):
        raise RefundRefused([*path, "quantity"], f"Quantity cannot refund more items than were purchased ({item.sku})")
    if restock == "CANCEL" and quantity > ledger.unfulfilled_quantity(order, item):
        raise RefundRefused([*path, "restockType"], "Restock type CANCEL is only allowed for unfulfilled items")


def parse_pair(order: Order, value: Any, currency: str | None, path: list[str]) -> Pair:
    """An input amount as a Pair (presentment amounts converted at the order's rate)."""
    if value in (None, ""):
        return Pair(ZERO, ZERO)
    try:
        number = Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        raise RefundRefused(path, f"{value!r} is not a valid amount") from None
    if number < 0:
        raise RefundRefused(path, "Amount must be greater than or equal to 0")
    if currency in (None, order.currency):
        return Pair(number, _convert(order, number, to_presentment=True))
    if currency == order.presentment_currency:
        return Pair(_convert(order, number, to_presentment=False), number)
    raise RefundRefused(["currency"], f"Currency {currency} is neither the shop nor the presentment currency")


def _convert(order: Order, value: Decimal, to_presentment: bool) -> Decimal:
    total = ledger.total_price(order)
    if total.shop == 0 or total.presentment == 0:
        return value
    rate = total.presentment / total.shop if to_presentment else total.shop / total.presentment
    return (value * rate).quantize(CENT)
