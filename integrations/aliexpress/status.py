"""From AliExpress's ``order_status`` + ``end_reason`` (+ ``logistics_status``) to one state a person reads.

Pure: no I/O. Unknown values never raise; they come back as ``UNKNOWN`` (or, for an unknown logistics
value beside a known order status, the order status's state) with ``known=False`` so the caller keeps
the raw values and flags the supplier order.

States (``SupplierOrder.status``):

=====================  ===========================================================================
awaiting_payment       placed, the store has not paid (AliExpress auto-cancels after a few days)
risk_check             paid, AliExpress's ~24 h risk control / payment verification is running
awaiting_shipment      paid and cleared; the seller must ship within its handling time
cancellation_requested the store asked to cancel; the seller must answer within 48 h
partly_shipped         some items shipped
shipped                in transit (buyer protection counting down)
delivered              delivered or receipt confirmed; money is the seller's
in_dispute             a dispute is open (or the order is frozen pending one)
closed_cancelled       closed without goods: the money comes back to the store
closed_completed       closed after delivery
unknown                a value this table does not know: kept raw, flagged, a person looks
=====================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

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

STATES = (
    AWAITING_PAYMENT,
    RISK_CHECK,
    AWAITING_SHIPMENT,
    CANCELLATION_REQUESTED,
    PARTLY_SHIPPED,
    SHIPPED,
    DELIVERED,
    IN_DISPUTE,
    CLOSED_CANCELLED,
    CLOSED_COMPLETED,
    UNKNOWN,
)
#: Nothing more can happen to these: they are not polled any more.
CLOSED_STATES = frozenset({CLOSED_CANCELLED, CLOSED_COMPLETED})
#: The seller has not shipped: a cancellation can still be asked for.
NOT_SHIPPED_STATES = frozenset({AWAITING_PAYMENT, RISK_CHECK, AWAITING_SHIPMENT, CANCELLATION_REQUESTED})

STATE_LABELS = {
    AWAITING_PAYMENT: "awaiting payment",
    RISK_CHECK: "risk check",
    AWAITING_SHIPMENT: "awaiting shipment",
    CANCELLATION_REQUESTED: "cancellation requested",
    PARTLY_SHIPPED: "partly shipped",
    SHIPPED: "shipped",
    DELIVERED: "delivered",
    IN_DISPUTE: "in dispute",
    CLOSED_CANCELLED: "closed (cancelled: money comes back)",
    CLOSED_COMPLETED: "closed (completed)",
    UNKNOWN: "unknown (raw value kept)",
}

ORDER_STATUS_STATES = {
    "PLACE_ORDER_SUCCESS": AWAITING_PAYMENT,
    "RISK_CONTROL": RISK_CHECK,
    # The seller verifies the amount received: still before shipment, after payment.
    "WAIT_SELLER_EXAMINE_MONEY": RISK_CHECK,
    "WAIT_SELLER_SEND_GOODS": AWAITING_SHIPMENT,
    "SELLER_PART_SEND_GOODS": PARTLY_SHIPPED,
    "IN_CANCEL": CANCELLATION_REQUESTED,
    "WAIT_BUYER_ACCEPT_GOODS": SHIPPED,
    # Receipt confirmed, the seller's money is being settled.
    "FUND_PROCESSING": DELIVERED,
    "IN_ISSUE": IN_DISPUTE,
    # Frozen pending a dispute or a risk decision: a person must look, like a dispute.
    "IN_FROZEN": IN_DISPUTE,
}

#: FINISH with one of these: closed without the goods, the money comes back.
CANCEL_END_REASONS = frozenset(
    {
        "buyer_cancel_order",
        "buyer_cancel_notpay_order",
        "seller_send_goods_timeout",
        "cancel_order_close_trade",
        "seller_accept_issue_no_goods_return",
        "buyer_pay_timeout",
        "risk_reject_closed",
        # A dispute settled after the goods went back to the seller: the money comes back.
        "seller_accept_issue_goods_return",
    }
)
#: FINISH with one of these: the goods were delivered (or deemed so).
COMPLETE_END_REASONS = frozenset({"buyer_accept_goods", "buyer_accept_goods_timeout"})

#: ``logistics_status`` values the gateway reports for a supplier order. ``DELIVERED`` is the carrier's
#: delivery scan: the parcel arrived while the buyer has not confirmed receipt (the order stays open, so a
#: damage claim can still be disputed); ``BUYER_ACCEPT_GOODS`` is the buyer's confirmation.
CARRIER_DELIVERED = "DELIVERED"
LOGISTICS_DELIVERED = frozenset({"BUYER_ACCEPT_GOODS", CARRIER_DELIVERED})
KNOWN_LOGISTICS_STATUSES = frozenset(
    {
        "NO_LOGISTICS", "WAIT_SELLER_SEND_GOODS", "SELLER_SEND_PART_GOODS", "SELLER_SEND_GOODS", "BUYER_ACCEPT_GOODS",
        CARRIER_DELIVERED,
    }
)  # fmt: skip


@dataclass(frozen=True)
class StatusReading:
    """The mapped state; ``known`` is False when any given raw value was not recognised."""

    state: str
    known: bool
    reason: str = ""


def map_status(
    order_status: str | None, end_reason: str | None = None, logistics_status: str | None = None
) -> StatusReading:
    """Map the raw triple to one state. Case and surrounding spaces in the raw values are ignored."""
    status = (order_status or "").strip().upper()
    reason = (end_reason or "").strip().lower()
    logistics = (logistics_status or "").strip().upper()
    logistics_known = not logistics or logistics in KNOWN_LOGISTICS_STATUSES
    if status == "FINISH":
        return _finished(reason, logistics, logistics_known)
    state = ORDER_STATUS_STATES.get(status)
    if state is None:
        return StatusReading(UNKNOWN, False, f"unknown order_status {order_status!r}")
    if state == SHIPPED and logistics in LOGISTICS_DELIVERED:
        state = DELIVERED
    if not logistics_known:
        return StatusReading(state, False, f"unknown logistics_status {logistics_status!r}")
    return StatusReading(state, True)


def _finished(reason: str, logistics: str, logistics_known: bool) -> StatusReading:
    if reason in CANCEL_END_REASONS:
        return StatusReading(CLOSED_CANCELLED, logistics_known)
    if reason in COMPLETE_END_REASONS:
        return StatusReading(CLOSED_COMPLETED, logistics_known)
    if not reason and logistics in LOGISTICS_DELIVERED:
        # No end reason, but the goods were accepted: completion is the only reading.
        return StatusReading(CLOSED_COMPLETED, True)
    # Which way did the money go? Unknowable here: never guess, a person decides.
    return StatusReading(UNKNOWN, False, f"FINISH with unknown end_reason {reason or None!r}")
