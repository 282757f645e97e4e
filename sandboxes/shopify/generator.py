"""Deterministic seeded orders: order ``i`` of seed ``s`` is always the same order, built on demand.

Invariant the listing relies on: for seeded orders, ``id``, ``created_at`` and ``updated_at`` all increase
strictly with the index, and their times come from ``Seeder.created_at``/``updated_at`` (cheap arithmetic,
no order built). So range filters and cursors become index ranges by binary search, and a million seeded
orders cost nothing until read. An order is materialized (kept in memory) only once it is mutated.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import TypeVar

from sandboxes.shopify import ids
from sandboxes.shopify.catalog import (
    CARRIERS,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    PRESENTMENT_RATES,
    PRODUCTS,
    STREETS,
)
from sandboxes.shopify.model import (
    CENT,
    ZERO,
    ZERO_PAIR,
    Address,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    LineItem,
    Order,
    Pair,
    Refund,
    RefundLine,
    Transaction,
    new_pair,
    pair_sum,
)

_MASK = (1 << 64) - 1
T = TypeVar("T")
SERVICE_LOCATION_NAME = "AliExpress Dropshipping"
TAGS = ("dropship", "aliexpress", "vip", "repeat", "gift")


def _mix(value: int) -> int:
    """splitmix64: a fast, well-spread hash for per-index randomness without building a Random."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _unit(seed: int, index: int, salt: int) -> float:
    return _mix(seed * 1_000_003 + index * 7919 + salt) / float(1 << 64)


@dataclass(frozen=True)
class Seeder:
    """Builds seeded order ``index`` (0 <= index < count) from (seed, index) alone."""

    seed: int
    count: int
    window_start: datetime
    window_end: datetime
    shop_currency: str = "USD"

    @cached_property
    def step(self) -> timedelta:
        """Time between consecutive orders (cached: listing asks for order times at every index)."""
        return (self.window_end - self.window_start) / max(self.count, 1)

    def created_at(self, index: int) -> datetime:
        offset = self.step * (index + 0.45 * _unit(self.seed, index, 1))
        return _ms(self.window_start + offset)

    def updated_at(self, index: int) -> datetime:
        offset = self.step * (index + 0.5 + 0.45 * _unit(self.seed, index, 2))
        return _ms(self.window_start + offset)

    def build(self, index: int) -> Order:
        rng = random.Random(_mix(self.seed * 1_000_003 + index))
        created, updated = self.created_at(index), self.updated_at(index)
        return build_order(rng, index, created, updated, self.shop_currency, None)


def build_order(
    rng: random.Random,
    index: int,
    created: datetime,
    updated: datetime,
    currency: str,
    scenario: str | None,
    line_count: int | None = None,
) -> Order:
    """Order ``index`` drawn from ``rng``; ``scenario`` None draws one with the seeded shop's weights."""
    order = _base_order(rng, index, created, updated, currency, line_count)
    _apply_scenario(rng, order, scenario or _pick_scenario(rng.random()), created, updated)
    count_children(order)
    return order


def _randint(rng: random.Random, low: int, high: int) -> int:
    """Like ``rng.randint`` but one ``random()`` draw (the generator's hot path)."""
    return low + int(rng.random() * (high - low + 1))


def _randbelow(rng: random.Random, count: int) -> int:
    return int(rng.random() * count)


def _sample(rng: random.Random, population: int, count: int) -> list[int]:
    """``count`` distinct indexes below ``population`` (partial Fisher-Yates on ``random()`` draws)."""
    pool = list(range(population))
    for position in range(count):
        swap = position + int(rng.random() * (population - position))
        pool[position], pool[swap] = pool[swap], pool[position]
    return pool[:count]


def _choice(rng: random.Random, options: Sequence[T]) -> T:
    return options[int(rng.random() * len(options))]


def _ms(moment: datetime) -> datetime:
    """``moment`` truncated to the millisecond (subtracting is several times cheaper than ``replace``)."""
    extra = moment.microsecond % 1000
    return moment - timedelta(microseconds=extra) if extra else moment


SCENARIOS: tuple[tuple[str, float], ...] = (
    ("paid_unsubmitted", 0.14),
    ("paid_submitted", 0.12),
    ("paid_accepted", 0.20),
    ("rejected", 0.02),
    ("partially_fulfilled", 0.05),
    ("fulfilled", 0.24),
    ("authorized", 0.07),
    ("pending", 0.03),
    ("partially_refunded", 0.06),
    ("cancelled", 0.07),
)


def _pick_scenario(draw: float) -> str:
    for name, weight in SCENARIOS:
        if draw < weight:
            return name
        draw -= weight
    return SCENARIOS[-1][0]


def _base_order(
    rng: random.Random, index: int, created: datetime, updated: datetime, currency: str, line_count: int | None
) -> Order:
    country = _choice(rng, COUNTRIES)
    presentment, rate = _choice(rng, PRESENTMENT_RATES[country[1]])
    customer = _customer(rng, index)
    count = line_count if line_count is not None else _randint(rng, 1, 4)
    lines = _line_items(rng, index, rate, country[3], count, discount=rng.random() < 0.25)
    shipping_shop = _choice(rng, (ZERO, Decimal("4.99"), Decimal("9.99")))
    return Order(
        index=index,
        id=ids.order_id(index),
        number=ids.ORDER_NUMBER_BASE + index,
        created_at=created,
        updated_at=updated,
        currency=currency,
        presentment_currency=presentment,
        customer=customer,
        shipping_address=_address(rng, customer, country),
        line_items=lines,
        shipping_price=Pair(shipping_shop, (shipping_shop * rate).quantize(CENT)),
        shipping_title="Standard Shipping" if shipping_shop else "Free Shipping",
        tax_rate=country[3],
        transactions=[],
        fulfillment_orders=[],
        tags=[TAGS[i] for i in _sample(rng, len(TAGS), _randint(rng, 0, 2))],
        discount_codes=["SAVE10"] if any(not item.discount.is_zero() for item in lines) else [],
        source_name=_choice(rng, ("web", "web", "shopify_draft_order", "pos")),
    )


def _customer(rng: random.Random, index: int) -> Customer:
    first, last = _choice(rng, FIRST_NAMES), _choice(rng, LAST_NAMES)
    email = f"{first.lower()}.{last.lower()}{index % 997}@example.com"
    return Customer(ids.CUSTOMER_BASE + index, first, last, email, f"+1555{_randint(rng, 1000000, 9999999)}")


def _address(rng: random.Random, customer: Customer, country: tuple[str, str, str, Decimal]) -> Address:
    city, code, province = country[0], country[1], country[2]
    street = f"{_randint(rng, 1, 999)} {_choice(rng, STREETS)}"
    zip_code = f"{_randint(rng, 10000, 99999)}"
    return Address(customer.first_name, customer.last_name, street, city, province, province, code, code, zip_code)


def _line_items(
    rng: random.Random, index: int, rate: Decimal, tax_rate: Decimal, count: int, discount: bool
) -> list[LineItem]:
    items = []
    picks = _sample(rng, len(PRODUCTS), min(count, len(PRODUCTS)))
    picks += [picks[k % len(PRODUCTS)] for k in range(len(PRODUCTS), count)]  # a long order repeats products
    for k, product_index in enumerate(picks):
        title, vendor, base_price, variants = PRODUCTS[product_index]
        variant = _randbelow(rng, len(variants))
        quantity = _choice(rng, (1, 1, 1, 2, 2, 3))
        unit_shop = (base_price * Decimal(_randint(rng, 90, 120)) / 100).quantize(CENT)
        unit = new_pair((unit_shop, (unit_shop * rate).quantize(CENT)))
        off = _discount(unit.times(quantity)) if discount else ZERO_PAIR
        tax = _tax(unit.times(quantity) - off, tax_rate)
        items.append(
            LineItem(
                id=ids.child_id("LineItem", index, k),
                title=title,
                variant_title=variants[variant],
                sku=f"AE-{product_index:03d}-{variant:02d}",
                vendor=vendor,
                product_id=ids.PRODUCT_BASE + product_index,
                variant_id=ids.VARIANT_BASE + product_index * 100 + variant,
                quantity=quantity,
                unit_price=unit,
                discount=off,
                tax_rate=tax_rate,
                tax=tax,
            )
        )
    return items


def _discount(amount: Pair) -> Pair:
    return new_pair(((amount[0] / 10).quantize(CENT), (amount[1] / 10).quantize(CENT)))


def _tax(amount: Pair, rate: Decimal) -> Pair:
    return new_pair(((amount[0] * rate).quantize(CENT), (amount[1] * rate).quantize(CENT)))


def order_total(order: Order) -> Pair:
    """Original total: discounted line totals + taxes + shipping (taxes exclusive)."""
    lines = pair_sum([item.unit_price.times(item.quantity) - item.discount + item.tax for item in order.line_items])
    return lines + order.shipping_price


def _between(rng: random.Random, start: datetime, end: datetime, fraction: float) -> datetime:
    return _ms(start + (end - start) * (fraction * (0.8 + 0.2 * rng.random())))


def _apply_scenario(rng: random.Random, order: Order, scenario: str, created: datetime, updated: datetime) -> None:
    _pay(rng, order, scenario, _between(rng, created, updated, 0.1))
    fo = _fulfillment_order(order, created)
    order.fulfillment_orders.append(fo)
    if scenario in ("paid_submitted", "paid_accepted", "rejected", "partially_fulfilled", "fulfilled"):
        fo.request_status = "SUBMITTED"
    if scenario in ("paid_accepted", "partially_fulfilled", "fulfilled", "partially_refunded"):
        fo.status, fo.request_status = "IN_PROGRESS", "ACCEPTED"
    if scenario == "rejected":
        fo.request_status = "REJECTED"
    linked = ("paid_accepted", "partially_fulfilled", "fulfilled", "partially_refunded")
    if scenario in linked or (scenario == "paid_submitted" and rng.random() < 0.5):
        supplier_order = _randint(rng, 3_000_000_000_000_000, 8_999_999_999_999_999)
        order.note_attributes.append(("aliexpress_order_id", str(supplier_order)))
    if scenario in ("partially_fulfilled", "fulfilled", "partially_refunded"):
        _fulfill(rng, order, fo, _between(rng, created, updated, 0.6), partial=scenario == "partially_fulfilled")
    if scenario == "partially_refunded":
        _refund_one_line(rng, order, _between(rng, created, updated, 0.9))
    if scenario == "cancelled":
        _cancel(rng, order, fo, _between(rng, created, updated, 0.7))
    fo.updated_at = updated
    if scenario == "fulfilled" and rng.random() < 0.5:
        order.closed_at = updated


def _pay(rng: random.Random, order: Order, scenario: str, when: datetime) -> None:
    amount = order_total(order)
    gateway = _choice(rng, ("shopify_payments", "shopify_payments", "paypal"))
    new_id = _next_transaction_id(order)
    if scenario == "pending":
        order.transactions.append(Transaction(new_id, "SALE", "PENDING", "manual", amount, when))
        return
    auth_code = f"{_randint(rng, 100000, 999999)}"
    if scenario == "authorized" or rng.random() < 0.4:
        order.transactions.append(
            Transaction(new_id, "AUTHORIZATION", "SUCCESS", gateway, amount, when, None, auth_code)
        )
        if scenario != "authorized":
            capture_id = _next_transaction_id(order)
            order.transactions.append(Transaction(capture_id, "CAPTURE", "SUCCESS", gateway, amount, when, new_id))
        return
    order.transactions.append(Transaction(new_id, "SALE", "SUCCESS", gateway, amount, when, None, auth_code))


def _next_transaction_id(order: Order) -> int:
    used = len(order.transactions) + sum(len(refund.transactions) for refund in order.refunds)
    return ids.child_id("OrderTransaction", order.index, used)


def _fulfillment_order(order: Order, created: datetime) -> FulfillmentOrder:
    lines = [
        FulfillmentOrderLine(
            ids.child_id("FulfillmentOrderLineItem", order.index, k), item.id, item.quantity, item.quantity
        )
        for k, item in enumerate(order.line_items)
    ]
    fo_id = ids.child_id("FulfillmentOrder", order.index, 0)
    location = (ids.SERVICE_LOCATION_ID, SERVICE_LOCATION_NAME)
    return FulfillmentOrder(fo_id, "OPEN", "UNSUBMITTED", location[0], location[1], created, created, lines)


def _fulfill(rng: random.Random, order: Order, fo: FulfillmentOrder, when: datetime, partial: bool) -> None:
    shipped = fo.lines[:-1] if partial and len(fo.lines) > 1 else fo.lines
    if partial and len(fo.lines) == 1:
        shipped = []
    if not shipped:
        return
    carrier, prefix, url = _choice(rng, CARRIERS)
    number = f"{prefix}{_randint(rng, 10**11, 10**12 - 1)}"
    for line in shipped:
        line.remaining_quantity = 0
    fulfillment = Fulfillment(
        id=ids.child_id("Fulfillment", order.index, 0),
        name=f"{order.name}-F1",
        status="SUCCESS",
        created_at=when,
        updated_at=when,
        fulfillment_order_id=fo.id,
        lines=[
            (ids.child_id("FulfillmentLineItem", order.index, k), line.line_item_id, line.total_quantity)
            for k, line in enumerate(shipped)
        ],
        tracking_company=carrier,
        tracking_number=number,
        tracking_url=url.format(number=number),
        display_status=_choice(rng, ("IN_TRANSIT", "IN_TRANSIT", "DELIVERED")),
    )
    order.fulfillments.append(fulfillment)
    fo.status = "CLOSED" if all(line.remaining_quantity == 0 for line in fo.lines) else "IN_PROGRESS"


def _refund_one_line(rng: random.Random, order: Order, when: datetime) -> None:
    item = _choice(rng, order.line_items)
    subtotal = Pair(
        ((item.unit_price.shop * item.quantity - item.discount.shop) / item.quantity).quantize(CENT),
        ((item.unit_price.presentment * item.quantity - item.discount.presentment) / item.quantity).quantize(CENT),
    )
    tax = _tax(subtotal, item.tax_rate)
    line = RefundLine(ids.child_id("RefundLineItem", order.index, 0), item.id, 1, "RETURN", subtotal, tax)
    _add_refund(order, when, [line], ZERO_PAIR, subtotal + tax, note="Damaged in transit")


def _cancel(rng: random.Random, order: Order, fo: FulfillmentOrder, when: datetime) -> None:
    order.cancelled_at, order.closed_at = when, when
    order.cancel_reason = _choice(rng, ("CUSTOMER", "CUSTOMER", "INVENTORY", "DECLINED", "FRAUD"))
    fo.status = "CLOSED"
    for line in fo.lines:
        line.remaining_quantity = 0
    paid = [t for t in order.transactions if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS"]
    if not paid:
        auth = next((t for t in order.transactions if t.kind == "AUTHORIZATION"), None)
        if auth is not None:
            void_id = _next_transaction_id(order)
            order.transactions.append(Transaction(void_id, "VOID", "SUCCESS", auth.gateway, auth.amount, when, auth.id))
        return
    lines = [
        RefundLine(
            ids.child_id("RefundLineItem", order.index, k),
            item.id,
            item.quantity,
            "CANCEL",
            item.unit_price.times(item.quantity) - item.discount,
            item.tax,
        )
        for k, item in enumerate(order.line_items)
    ]
    _add_refund(order, when, lines, order.shipping_price, order_total(order), note=None)


def _add_refund(
    order: Order, when: datetime, lines: list[RefundLine], shipping: Pair, amount: Pair, note: str | None
) -> None:
    parent = next(t for t in order.transactions if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS")
    refund_id = ids.child_id("Refund", order.index, len(order.refunds))
    transaction = Transaction(_next_transaction_id(order), "REFUND", "SUCCESS", parent.gateway, amount, when, parent.id)
    order.refunds.append(Refund(refund_id, when, note, lines, shipping, [transaction]))


def count_children(order: Order) -> None:
    """Record how many ids of each kind generation used, so mutations mint fresh ones."""
    order.next_child = {
        "OrderTransaction": len(order.transactions) + sum(len(r.transactions) for r in order.refunds),
        "Fulfillment": len(order.fulfillments),
        "FulfillmentLineItem": sum(len(f.lines) for f in order.fulfillments),
        "Refund": len(order.refunds),
        "RefundLineItem": sum(len(r.lines) for r in order.refunds),
        "FulfillmentOrder": len(order.fulfillment_orders),
        "FulfillmentOrderLineItem": sum(len(fo.lines) for fo in order.fulfillment_orders),
        "LineItem": len(order.line_items),
    }


def mint(order: Order, kind: str) -> int:
    """A fresh child id of ``kind`` for a mutation on ``order``."""
    k = order.next_child.get(kind, 0)
    order.next_child[kind] = k + 1
    return ids.child_id(kind, order.index, k)
