"""The arithmetic of a decision: what units are worth, fees, the cap, supplier cost shares. Pure.

Rounding rules (each keeps a refund from ever exceeding what was paid):

* a line's total is rounded half up once; the value of units ``r+1..r+q`` (``r`` already refunded)
  is ``floor(total·(r+q)/Q) − floor(total·r/Q)``, so successive partial refunds add up to the line
  total exactly;
* percentages of a refund are floored; a restocking fee is rounded half up (the store keeps at most
  the fee it announced, to the minor unit);
* splitting a total over lines uses ``worker.money.allocate`` (parts sum exactly);
* the refund is capped at ``total_paid − already_refunded − charged_back`` (a chargeback not won gave the
  customer that money back through their bank).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from worker.money import allocate, floor_money, format_money, round_money, zero
from worker.policy.inputs import OrderLine, PolicyOrder, SupplierSnapshot

HUNDRED = Decimal(100)


def line_total(line: OrderLine, order: PolicyOrder) -> Decimal:
    """What the whole line cost the customer: price × quantity − discount (+ tax unless included)."""
    tax = Decimal(0) if order.taxes_included else line.tax
    gross = line.unit_price * line.quantity - line.discount + tax
    return max(round_money(gross, order.currency), zero(order.currency))


def units_value(line: OrderLine, quantity: int, order: PolicyOrder) -> Decimal:
    """The value of ``quantity`` of the line's remaining units (see the module's rounding rules)."""
    if line.quantity <= 0 or quantity <= 0:
        return zero(order.currency)
    total = line_total(line, order)
    before = line.refunded_quantity
    after = min(before + quantity, line.quantity)
    # Differences of floored cumulative shares telescope: refunding the units one by one (or in any
    # groups) adds up to exactly the line's total, never a unit of money more or less.
    return _share(total, after, line.quantity, order.currency) - _share(total, before, line.quantity, order.currency)


def _share(total: Decimal, units: int, of: int, currency: str) -> Decimal:
    return total if units >= of else floor_money(total * units / of, currency)


def remaining_refundable(order: PolicyOrder) -> Decimal:
    """``total_paid − already_refunded − charged_back`` in the order's currency, never negative."""
    left = floor_money(order.total_paid - order.already_refunded - order.charged_back, order.currency)
    return max(left, zero(order.currency))


def charged_back_words(order: PolicyOrder) -> str:
    """``", 12.00 USD returned by the customer's bank (a chargeback)"`` when there is any, else ``""``."""
    if order.charged_back <= 0:
        return ""
    return f", {format_money(order.charged_back, order.currency)} returned by the customer's bank (a chargeback)"


def nothing_left_words(order: PolicyOrder) -> str:
    """``"Nothing is left to refund: 56.00 USD paid, 56.00 USD already refunded"`` and what chargebacks took."""
    return (
        f"Nothing is left to refund: {format_money(order.total_paid, order.currency)} paid, "
        f"{format_money(order.already_refunded, order.currency)} already refunded" + charged_back_words(order)
    )


def remaining_shipping(order: PolicyOrder) -> Decimal:
    left = floor_money(order.shipping - order.shipping_refunded, order.currency)
    return max(left, zero(order.currency))


@dataclass(frozen=True)
class Settlement:
    line_amounts: tuple[Decimal, ...]
    shipping: Decimal
    fee: Decimal
    kept_by_percent: Decimal  # value not refunded because the rule refunds a percentage
    capped_from: Decimal | None  # the total before the cap, when the cap reduced it

    @property
    def total(self) -> Decimal:
        return sum(self.line_amounts, self.shipping)


def settle(
    values: tuple[Decimal, ...],
    shipping: Decimal,
    *,
    refund_percent: Decimal,
    fee_percent: Decimal,
    cap: Decimal,
    currency: str,
) -> Settlement:
    """Turn the units' values into refunded amounts: percentage, then fee, then the cap."""
    items = sum(values, zero(currency))
    refundable = floor_money(items * refund_percent / HUNDRED, currency)
    fee = min(round_money(refundable * fee_percent / HUNDRED, currency), refundable)
    lines = allocate(refundable - fee, list(values), currency)
    total = refundable - fee + shipping
    if total <= cap:
        return Settlement(tuple(lines), shipping, fee, items - refundable, None)
    # The cap is what is left of the payment: more would be money the customer never paid.
    parts = allocate(cap, [*lines, shipping], currency)
    return Settlement(tuple(parts[:-1]), parts[-1], fee, items - refundable, total)


def supplier_cost(
    supplier: SupplierSnapshot, units: Mapping[str, int], order: PolicyOrder
) -> tuple[Decimal, Decimal, Decimal]:
    """(goods, shipping, total) of what the store paid ``supplier`` for the requested units.

    The payment is shared over the lines the supplier order covers in proportion to their value to the
    customer (the ledger keeps no per-item supplier price); in the supplier's currency, floored.
    """
    covered_all = Decimal(0)
    covered_asked = Decimal(0)
    for line in order.lines:
        if not supplier.covers(line.line_id) or line.quantity <= 0:
            continue
        covered = supplier.items.get(line.line_id, line.quantity) if supplier.items else line.quantity
        unit = max(line_total(line, order) / line.quantity, Decimal("0.0001"))
        covered_all += unit * covered
        covered_asked += unit * min(units.get(line.line_id, 0), covered)
    share = covered_asked / covered_all if covered_all > 0 else Decimal(0)
    goods_paid = max(supplier.amount_paid - supplier.shipping_paid, Decimal(0))
    goods = floor_money(goods_paid * share, supplier.currency)
    shipping = floor_money(supplier.shipping_paid * share, supplier.currency)
    return goods, shipping, goods + shipping
