"""Plain inputs for policy tests: one order of two lines, and supplier orders in any state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from worker.policy import (
    Evidence,
    FulfillmentState,
    OrderLine,
    Policy,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
    parse_policy,
)

D = Decimal
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def order(**changes: Any) -> PolicyOrder:
    """#1001: 2 × 20.00 (2.00 discount, 3.00 tax) + 1 × 10.00, shipping 5.00: 56.00 paid."""
    values: dict[str, Any] = {
        "currency": "USD",
        "lines": (
            OrderLine("1", 2, D("20.00"), discount=D("2.00"), tax=D("3.00"), sku="TEE"),
            OrderLine("2", 1, D("10.00"), sku="MUG"),
        ),
        "shipping": D("5.00"),
        "total_paid": D("56.00"),
        "already_refunded": D("0"),
        "fulfillment": FulfillmentState.UNFULFILLED,
        "created_at": days_ago(2),
        "name": "#1001",
    }
    values.update(changes)
    return PolicyOrder(**values)


def supplier(state: SupplierState = SupplierState.AWAITING_SHIPMENT, **changes: Any) -> SupplierSnapshot:
    values: dict[str, Any] = {
        "supplier": "Acme Store",
        "state": state,
        "amount_paid": D("20.00"),
        "currency": "USD",
        "paid_at": days_ago(2),
    }
    if state in (SupplierState.SHIPPED, SupplierState.DELIVERED, SupplierState.CLOSED_COMPLETED):
        values["shipped_at"] = days_ago(10)
    if state in (SupplierState.DELIVERED, SupplierState.CLOSED_COMPLETED):
        values["delivered_at"] = days_ago(3)
    values.update(changes)
    return SupplierSnapshot(**values)


def cancel(reason: Reason = Reason.CHANGED_MIND, items: dict[str, int] | None = None) -> Request:
    return Request(RequestKind.CANCEL, reason, items or {})


def ret(
    reason: Reason = Reason.DAMAGED, items: dict[str, int] | None = None, evidence: tuple[Evidence, ...] = ()
) -> Request:
    return Request(RequestKind.RETURN, reason, items or {}, frozenset(evidence))


def policy(text: str = "") -> Policy:
    return parse_policy(text, source="policy.toml")
