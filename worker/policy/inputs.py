"""The plain values a policy decision is made from: frozen dataclasses and string enums, no ORM.

``worker.policy.adapters`` builds them from the ledger; tests and replays build them by hand. Every
amount is a ``Decimal`` in the currency named beside it; every instant is timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class RequestKind(StrEnum):
    CANCEL = "cancel"
    RETURN = "return"


class Reason(StrEnum):
    """Why the customer (or the store) wants the order undone."""

    NOT_AS_DESCRIBED = "not_as_described"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    WRONG_SIZE = "wrong_size"
    CHANGED_MIND = "changed_mind"
    NOT_RECEIVED = "not_received"
    LATE = "late"
    OUT_OF_STOCK = "out_of_stock"
    FRAUD = "fraud"
    OTHER = "other"


#: Reasons where the parcel is missing or slow: nothing comes back, the supplier's dispute covers it.
DELIVERY_REASONS = frozenset({Reason.NOT_RECEIVED, Reason.LATE})
#: Reasons the store raises itself (supplier cannot fulfil, suspected fraud): always cancellable.
STORE_REASONS = frozenset({Reason.OUT_OF_STOCK, Reason.FRAUD})


class Evidence(StrEnum):
    PHOTOS = "photos"
    VIDEO = "video"
    TRACKING = "tracking"
    CORRESPONDENCE = "correspondence"


class FulfillmentState(StrEnum):
    """The Shopify side: only an unfulfilled order (or one whose fulfillment request can still be
    withdrawn) can be cancelled; a (partially) fulfilled one can only be refunded."""

    UNFULFILLED = "unfulfilled"
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"


class SupplierState(StrEnum):
    """dropsync's reading of the supplier order (same names as the AliExpress integration's states)."""

    NONE = "none"
    AWAITING_PAYMENT = "awaiting_payment"
    RISK_CHECK = "risk_check"
    AWAITING_SHIPMENT = "awaiting_shipment"
    CANCELLATION_REQUESTED = "cancellation_requested"
    PARTLY_SHIPPED = "partly_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    IN_DISPUTE = "in_dispute"
    CLOSED_CANCELLED = "closed_cancelled"
    CLOSED_COMPLETED = "closed_completed"
    UNKNOWN = "unknown"


#: The store has not paid the supplier: cancelling costs nothing on the supplier side.
UNPAID_STATES = frozenset({SupplierState.NONE, SupplierState.AWAITING_PAYMENT})
#: Paid, not shipped: the seller may still cancel (with its consent).
CANCELLABLE_STATES = frozenset(
    {SupplierState.RISK_CHECK, SupplierState.AWAITING_SHIPMENT, SupplierState.CANCELLATION_REQUESTED}
)
#: The goods are on their way or arrived: no cancellation, only a return or a dispute.
SHIPPED_STATES = frozenset({SupplierState.SHIPPED, SupplierState.DELIVERED, SupplierState.CLOSED_COMPLETED})


def _frozen_items(items: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType({str(k): int(v) for k, v in sorted(items.items())})


@dataclass(frozen=True)
class Request:
    """What is asked: ``items`` maps line id → quantity; empty means every remaining unit of the order."""

    kind: RequestKind
    reason: Reason
    items: Mapping[str, int] = field(default_factory=dict)
    evidence: frozenset[Evidence] = frozenset()

    def __post_init__(self) -> None:
        # Plain strings are accepted for the enums (JSON, CLI): normalised so equal requests compare equal.
        object.__setattr__(self, "kind", RequestKind(self.kind))
        object.__setattr__(self, "reason", Reason(self.reason))
        object.__setattr__(self, "items", _frozen_items(self.items))
        object.__setattr__(self, "evidence", frozenset(Evidence(e) for e in self.evidence))


@dataclass(frozen=True)
class OrderLine:
    """One Shopify line: ``discount`` and ``tax`` are the line's totals over all ``quantity`` units."""

    line_id: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    refunded_quantity: int = 0
    sku: str | None = None
    title: str = ""

    @property
    def remaining_quantity(self) -> int:
        return max(self.quantity - self.refunded_quantity, 0)


@dataclass(frozen=True)
class PolicyOrder:
    """The order as the policy weighs it: its money and state, read from the ledger (``adapters.policy_order``)
    or from a stored decision's inputs. Not Shopify's payload (that is ``integrations.shopify.order``).
    ``total_paid`` is what the customer actually paid;
    ``taxes_included``: line prices already contain the tax (VAT-inclusive stores), so it is not added."""

    currency: str
    lines: tuple[OrderLine, ...]
    shipping: Decimal
    total_paid: Decimal
    already_refunded: Decimal
    fulfillment: FulfillmentState
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None
    cancelled: bool = False
    shipping_refunded: Decimal = Decimal(0)
    taxes_included: bool = False
    name: str = ""
    #: What the customer's bank took back through chargebacks not won (open, accepted or lost): the
    #: customer has that money back already, so a refund on top would pay it twice.
    charged_back: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fulfillment", FulfillmentState(self.fulfillment))
        object.__setattr__(self, "currency", self.currency.upper())

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


@dataclass(frozen=True)
class SupplierSnapshot:
    """One supplier order. ``items`` maps the Shopify line ids it covers → quantity (empty: all of them).

    ``amount_paid`` (and ``shipping_paid``, part of it) is in the supplier's ``currency``.
    """

    supplier: str
    state: SupplierState
    amount_paid: Decimal = Decimal(0)
    currency: str = "USD"
    shipping_paid: Decimal = Decimal(0)
    amount_refunded: Decimal = Decimal(0)
    items: Mapping[str, int] = field(default_factory=dict)
    paid_at: dt.datetime | None = None
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    protection_ends_at: dt.datetime | None = None
    has_tracking: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", SupplierState(self.state))
        object.__setattr__(self, "currency", self.currency.upper())
        object.__setattr__(self, "items", _frozen_items(self.items))

    def covers(self, line_id: str) -> bool:
        """True when this supplier order supplies (some units of) ``line_id``; empty items cover all."""
        return not self.items or line_id in self.items
