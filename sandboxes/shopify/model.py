"""The sandbox's order model: plain dataclasses, money as ``Pair`` (shop and presentment currency).

Every id is a Shopify-style numeric id; ``gid()`` builds the GraphQL global id. Derived figures (totals,
financial and fulfillment status) live in ``ledger.py`` so that a mutation only changes facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def gid(kind: str, numeric_id: int) -> str:
    return f"gid://shopify/{kind}/{numeric_id}"


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id of ``gid://shopify/<kind>/<n>``; None if it names another kind or is malformed."""
    prefix = f"gid://shopify/{kind}/"
    if not value.startswith(prefix):
        return None
    tail = value[len(prefix) :].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


class Pair(NamedTuple):
    """An amount in the shop currency and in the presentment (customer) currency.

    A NamedTuple (immutable, cheap to build: the generator makes tens per order); ``+``/``-`` add amounts,
    they do not concatenate. The arithmetic builds results with ``new_pair`` (the NamedTuple constructor
    is a Python function; bulk exports do this arithmetic millions of times).
    """

    shop: Decimal
    presentment: Decimal

    def __add__(self, other: Pair) -> Pair:  # type: ignore[override]
        return new_pair((self[0] + other[0], self[1] + other[1]))

    def __sub__(self, other: Pair) -> Pair:
        return new_pair((self[0] - other[0], self[1] - other[1]))

    def times(self, quantity: int) -> Pair:
        return new_pair((self[0] * quantity, self[1] * quantity))

    def is_zero(self) -> bool:
        return self.shop == 0 and self.presentment == 0


_tuple_new = tuple.__new__


def new_pair(amounts: tuple[Decimal, Decimal]) -> Pair:
    """``Pair(*amounts)`` without the NamedTuple constructor's Python frame."""
    return _tuple_new(Pair, amounts)


ZERO_PAIR = Pair(ZERO, ZERO)


def pair_sum(pairs: list[Pair]) -> Pair:
    """The amounts added left to right from ``ZERO`` (so the result keeps ``ZERO``'s two decimals)."""
    if not pairs:
        return ZERO_PAIR
    shop = presentment = ZERO
    for pair in pairs:
        shop += pair[0]
        presentment += pair[1]
    return new_pair((shop, presentment))


@dataclass
class LineItem:
    id: int
    title: str
    variant_title: str
    sku: str
    vendor: str
    product_id: int
    variant_id: int
    quantity: int
    unit_price: Pair
    discount: Pair  # total discount allocated to the line
    tax_rate: Decimal
    tax: Pair  # total tax of the line
    requires_shipping: bool = True


@dataclass
class Transaction:
    id: int
    kind: str  # AUTHORIZATION, CAPTURE, SALE, REFUND, VOID
    status: str  # SUCCESS, PENDING, FAILURE
    gateway: str
    amount: Pair
    created_at: datetime
    parent_id: int | None = None
    authorization_code: str | None = None
    test: bool = True


@dataclass
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder:
    id: int
    status: str  # FulfillmentOrderStatus
    request_status: str  # FulfillmentOrderRequestStatus
    location_id: int
    location_name: str
    created_at: datetime
    updated_at: datetime
    lines: list[FulfillmentOrderLine]
    is_service: bool = True


@dataclass
class Fulfillment:
    id: int
    name: str
    status: str  # FulfillmentStatus: SUCCESS, CANCELLED
    created_at: datetime
    updated_at: datetime
    fulfillment_order_id: int
    lines: list[tuple[int, int, int]]  # (fulfillment line item id, line_item_id, quantity)
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    display_status: str = "IN_TRANSIT"


@dataclass
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    restock_type: str
    subtotal: Pair
    tax: Pair


@dataclass
class Refund:
    id: int
    created_at: datetime
    note: str | None
    lines: list[RefundLine]
    shipping: Pair
    transactions: list[Transaction]
    return_id: int | None = None  # the Return whose ``returnProcess`` made it

    def total(self) -> Pair:
        return pair_sum([t.amount for t in self.transactions if t.status == "SUCCESS"])


@dataclass
class Disposition:
    """What became of returned units (``ReverseFulfillmentOrderDisposition``)."""

    id: int
    quantity: int
    type: str  # ReverseFulfillmentOrderDispositionType: RESTOCKED, NOT_RESTOCKED, PROCESSING_REQUIRED, MISSING
    location_id: int | None
    created_at: datetime


@dataclass
class ReturnLine:
    """A ``ReturnLineItem``: units of one fulfillment line item, and its reverse fulfillment order line."""

    id: int
    fulfillment_line_item_id: int
    line_item_id: int
    quantity: int
    reason: str  # ReturnReason
    reason_note: str
    customer_note: str | None
    restocking_fee_percentage: float | None
    reverse_line_id: int
    processed_quantity: int = 0
    refunded_quantity: int = 0  # processed units a returnProcess refunded (financialTransfer.issueRefund)
    dispositions: list[Disposition] = field(default_factory=list)


ACTIVE_RETURN_STATUSES = ("REQUESTED", "OPEN")


@dataclass
class Return:
    """A ``Return`` (REQUESTED, OPEN, CLOSED, DECLINED, CANCELED) and its one reverse fulfillment order."""

    id: int
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    lines: list[ReturnLine]
    reverse_fulfillment_order_id: int
    requested_at: datetime | None = None
    request_approved_at: datetime | None = None
    closed_at: datetime | None = None
    decline_reason: str | None = None
    decline_note: str | None = None
    shipping_fee: Pair | None = None
    shipping_fee_id: int | None = None

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def reverse_status(self) -> str | None:
        """The reverse fulfillment order's status (None while the return is only requested or was declined)."""
        if self.request_approved_at is None:
            return None
        return {"OPEN": "OPEN", "CLOSED": "CLOSED", "CANCELED": "CANCELED"}.get(self.status)

    def line(self, line_id: int) -> ReturnLine | None:
        return next((line for line in self.lines if line.id == line_id), None)


@dataclass
class Customer:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None = None


@dataclass
class Address:
    first_name: str
    last_name: str
    address1: str
    city: str
    province: str | None
    province_code: str | None
    country: str
    country_code: str
    zip: str
    phone: str | None = None


@dataclass
class Order:
    """One order. ``index`` is its position in the shop (seeded orders first, then created ones)."""

    index: int
    id: int
    number: int
    created_at: datetime
    updated_at: datetime
    currency: str
    presentment_currency: str
    customer: Customer
    shipping_address: Address
    line_items: list[LineItem]
    shipping_price: Pair
    shipping_title: str
    tax_rate: Decimal
    transactions: list[Transaction]
    fulfillment_orders: list[FulfillmentOrder]
    fulfillments: list[Fulfillment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    note_attributes: list[tuple[str, str]] = field(default_factory=list)
    discount_codes: list[str] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    source_name: str = "web"
    # Per-kind counters for child ids minted after generation (refunds, transactions, fulfillments ...).
    next_child: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    def line_item(self, line_item_id: int) -> LineItem | None:
        return next((item for item in self.line_items if item.id == line_item_id), None)

    def fulfillment_order(self, fo_id: int) -> FulfillmentOrder | None:
        return next((fo for fo in self.fulfillment_orders if fo.id == fo_id), None)

    def return_(self, return_id: int) -> Return | None:
        return next((r for r in self.returns if r.id == return_id), None)

    def fulfillment_line(self, fulfillment_line_item_id: int) -> tuple[Fulfillment, tuple[int, int, int]] | None:
        """The fulfillment and its ``(id, line_item_id, quantity)`` line for a fulfillment line item id."""
        for fulfillment in self.fulfillments:
            for line in fulfillment.lines:
                if line[0] == fulfillment_line_item_id:
                    return fulfillment, line
        return None

    def transaction(self, transaction_id: int) -> Transaction | None:
        every = self.transactions + [t for refund in self.refunds for t in refund.transactions]
        return next((t for t in every if t.id == transaction_id), None)
