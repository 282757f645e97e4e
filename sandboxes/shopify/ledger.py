"""Figures derived from an order's facts: totals, what was paid and refunded, statuses, quantities.

Pure functions of ``Order``; mutations change facts (transactions, refunds, fulfillments) and these follow.
Each function reads the order afresh. ``Figures`` computes the same figures for one render of one order,
each at most once: a rendered order asks for the same sums many times (its total is behind
``totalPriceSet``, ``totalOutstandingSet`` and the financial status; every line item's quantities walk the
refunds and fulfillments), and bulk exports render every order of the shop.
"""

from __future__ import annotations

from sandboxes.shopify.model import ZERO, ZERO_PAIR, LineItem, Order, Pair, new_pair, pair_sum

PAID_KINDS = ("SALE", "CAPTURE")


class Figures:
    """One order's derived figures, each computed when first asked for, then kept.

    Never notices a change to the order after a figure was computed: hold one only while the order cannot
    change (one view render, under the state lock or on a copy), never across a mutation. The module's
    functions make a fresh one per call.
    """

    __slots__ = ("_fulfilled_by_line", "_lines", "_order", "_received", "_refunded", "_refunded_by_line", "_total")

    def __init__(self, order: Order) -> None:
        self._order = order
        self._lines: tuple[Pair, Pair, Pair] | None = None
        self._total: Pair | None = None
        self._received: Pair | None = None
        self._refunded: Pair | None = None
        self._refunded_by_line: dict[int, int] | None = None
        self._fulfilled_by_line: dict[int, int] | None = None

    def _line_sums(self) -> tuple[Pair, Pair, Pair]:
        """(subtotal, tax, discounts) in one pass, each summed left to right from ``ZERO`` like ``pair_sum``."""
        if self._lines is None:
            net_shop = net_presentment = tax_shop = tax_presentment = off_shop = off_presentment = ZERO
            for item in self._order.line_items:
                unit, off, tax, quantity = item.unit_price, item.discount, item.tax, item.quantity
                net_shop += unit[0] * quantity - off[0]
                net_presentment += unit[1] * quantity - off[1]
                tax_shop += tax[0]
                tax_presentment += tax[1]
                off_shop += off[0]
                off_presentment += off[1]
            self._lines = (
                new_pair((net_shop, net_presentment)),
                new_pair((tax_shop, tax_presentment)),
                new_pair((off_shop, off_presentment)),
            )
        return self._lines

    def subtotal(self) -> Pair:
        """Line totals after discounts, before shipping and taxes (Shopify's ``subtotalPriceSet``)."""
        return self._line_sums()[0]

    def total_tax(self) -> Pair:
        return self._line_sums()[1]

    def total_discounts(self) -> Pair:
        return self._line_sums()[2]

    def total_price(self) -> Pair:
        if self._total is None:
            subtotal, tax, _ = self._line_sums()
            self._total = subtotal + tax + self._order.shipping_price
        return self._total

    def received(self) -> Pair:
        if self._received is None:
            paid = [t.amount for t in self._order.transactions if t.kind in PAID_KINDS and t.status == "SUCCESS"]
            self._received = pair_sum(paid)
        return self._received

    def refunded(self) -> Pair:
        if self._refunded is None:
            self._refunded = pair_sum([refund.total() for refund in self._order.refunds])
        return self._refunded

    def refunded_shipping(self) -> Pair:
        return pair_sum([refund.shipping for refund in self._order.refunds])

    def net_payment(self) -> Pair:
        return self.received() - self.refunded()

    def uncaptured_authorizations(self) -> list[int]:
        """Ids of successful authorizations with no successful capture or void yet."""
        transactions = self._order.transactions
        settled = {t.parent_id for t in transactions if t.kind in ("CAPTURE", "VOID") and t.status == "SUCCESS"}
        return [
            t.id for t in transactions if t.kind == "AUTHORIZATION" and t.status == "SUCCESS" and t.id not in settled
        ]

    def capturable(self) -> Pair:
        auth = set(self.uncaptured_authorizations())
        return pair_sum([t.amount for t in self._order.transactions if t.id in auth])

    def refunded_quantity(self, item: LineItem) -> int:
        if self._refunded_by_line is None:
            counts: dict[int, int] = {}
            for refund in self._order.refunds:
                for line in refund.lines:
                    counts[line.line_item_id] = counts.get(line.line_item_id, 0) + line.quantity
            self._refunded_by_line = counts
        return self._refunded_by_line.get(item.id, 0)

    def fulfilled_quantity(self, item: LineItem) -> int:
        if self._fulfilled_by_line is None:
            counts: dict[int, int] = {}
            for fulfillment in self._order.fulfillments:
                if fulfillment.status == "SUCCESS":
                    for _, line_id, quantity in fulfillment.lines:
                        counts[line_id] = counts.get(line_id, 0) + quantity
            self._fulfilled_by_line = counts
        return self._fulfilled_by_line.get(item.id, 0)

    def current_quantity(self, item: LineItem) -> int:
        return item.quantity - self.refunded_quantity(item)

    def unfulfilled_quantity(self, item: LineItem) -> int:
        if self._order.cancelled_at is not None:
            return 0
        return max(0, self.current_quantity(item) - self.fulfilled_quantity(item))

    def current_total(self) -> Pair:
        """The total after refunded line items and shipping are taken out."""
        removed = pair_sum([line.subtotal + line.tax for refund in self._order.refunds for line in refund.lines])
        return self.total_price() - removed - self.refunded_shipping()

    def outstanding(self) -> Pair:
        due = self.current_total() - self.net_payment()
        return Pair(max(due.shop, ZERO_PAIR.shop), max(due.presentment, ZERO_PAIR.presentment))

    def financial_status(self) -> str:
        """OrderDisplayFinancialStatus from the transactions."""
        paid, back = self.received().shop, self.refunded().shop
        if paid == 0:
            if any(t.kind == "VOID" and t.status == "SUCCESS" for t in self._order.transactions):
                return "VOIDED"
            return "AUTHORIZED" if self.uncaptured_authorizations() else "PENDING"
        if back >= paid:
            return "REFUNDED"
        if back > 0:
            return "PARTIALLY_REFUNDED"
        if paid < self.total_price().shop:
            return "PARTIALLY_PAID"
        return "PAID"

    def fulfillment_status(self) -> str:
        """OrderDisplayFulfillmentStatus from fulfillments and the fulfillment orders' requests."""
        order = self._order
        wanted = sum(self.current_quantity(item) for item in order.line_items)
        shipped = sum(self.fulfilled_quantity(item) for item in order.line_items)
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


def subtotal(order: Order) -> Pair:
    """Line totals after discounts, before shipping and taxes (Shopify's ``subtotalPriceSet``)."""
    return Figures(order).subtotal()


def total_tax(order: Order) -> Pair:
    return Figures(order).total_tax()


def total_discounts(order: Order) -> Pair:
    return Figures(order).total_discounts()


def total_price(order: Order) -> Pair:
    return Figures(order).total_price()


def received(order: Order) -> Pair:
    return Figures(order).received()


def refunded(order: Order) -> Pair:
    return Figures(order).refunded()


def refunded_shipping(order: Order) -> Pair:
    return Figures(order).refunded_shipping()


def net_payment(order: Order) -> Pair:
    return Figures(order).net_payment()


def uncaptured_authorizations(order: Order) -> list[int]:
    """Ids of successful authorizations with no successful capture or void yet."""
    return Figures(order).uncaptured_authorizations()


def refunded_quantity(order: Order, item: LineItem) -> int:
    return Figures(order).refunded_quantity(item)


def fulfilled_quantity(order: Order, item: LineItem) -> int:
    return Figures(order).fulfilled_quantity(item)


def current_quantity(order: Order, item: LineItem) -> int:
    return Figures(order).current_quantity(item)


def unfulfilled_quantity(order: Order, item: LineItem) -> int:
    return Figures(order).unfulfilled_quantity(item)


def current_total(order: Order) -> Pair:
    """The total after refunded line items and shipping are taken out."""
    return Figures(order).current_total()


def outstanding(order: Order) -> Pair:
    return Figures(order).outstanding()


def financial_status(order: Order) -> str:
    """OrderDisplayFinancialStatus from the transactions."""
    return Figures(order).financial_status()


def fulfillment_status(order: Order) -> str:
    """OrderDisplayFulfillmentStatus from fulfillments and the fulfillment orders' requests."""
    return Figures(order).fulfillment_status()


def rest_fulfillment_status(order: Order) -> str | None:
    """The REST ``fulfillment_status``: null, "partial" or "fulfilled"."""
    status = fulfillment_status(order)
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(status)


def is_closed(order: Order) -> bool:
    return order.closed_at is not None
