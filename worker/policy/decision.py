"""What ``evaluate`` returns: a frozen decision, with a JSON snapshot stored on the cancellation request.

Invariants (checked by property tests):

* ``refund_total == sum(line.amount) + shipping_amount`` and
  ``0 ≤ refund_total ≤ order.total_paid − order.already_refunded``;
* every amount is in the order's currency, rounded to its minor unit;
* ``store_exposure == refund_total − expected_supplier_recovery``;
* a denial refunds nothing; an escalation carries the amounts a person would approve (or zeros when
  the rules stopped before any amount could be computed).

``Decision.from_dict`` is the inverse of ``to_dict``: what a request or return stored is read back as
the same frozen object (``from_dict(d.to_dict()) == d``), never by string keys at the call site. Rows
stored before decisions carried their ``inputs`` load with empty inputs (they cannot be replayed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from worker.policy.inputs import Reason, RequestKind
from worker.policy.model import Payer, RefundMethod


class Action(StrEnum):
    CANCEL = "cancel"  # cancel the whole Shopify order (orderCancel), refunding what the decision says
    REFUND_ITEMS = "refund_items"  # refund the listed line items in full (refundCreate)
    REFUND_PARTIAL = "refund_partial"  # refund less than the items' full value (fee, percentage or cap)
    DENY = "deny"
    ESCALATE = "escalate"  # a person decides; the amounts are what the rules would refund


@dataclass(frozen=True)
class LineRefund:
    """``value`` is what the units cost the customer (after discount, with tax); ``amount`` is refunded."""

    line_id: str
    quantity: int
    value: Decimal
    amount: Decimal
    restock: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "quantity": self.quantity,
            "value": str(self.value),
            "amount": str(self.amount),
            "restock": self.restock,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LineRefund:
        return cls(
            line_id=str(data["line_id"]),
            quantity=int(data["quantity"]),
            value=_decimal(data["value"]),
            amount=_decimal(data["amount"]),
            restock=bool(data["restock"]),
        )


@dataclass(frozen=True)
class SupplierRecovery:
    """What one supplier order is expected to pay back, in the supplier's currency and the order's."""

    supplier: str
    currency: str
    # What this refund puts at stake of the store's payment to the supplier: the requested units'
    # share, times the share of their value refunded (a 20 % "late" refund stakes 20 % of the cost).
    cost: Decimal
    expected: Decimal  # in the supplier's currency
    expected_in_order_currency: Decimal | None  # None: no exchange rate in the policy
    due_within_business_days: int | None

    def to_dict(self) -> dict[str, Any]:
        converted = self.expected_in_order_currency
        return {
            "supplier": self.supplier,
            "currency": self.currency,
            "cost": str(self.cost),
            "expected": str(self.expected),
            "expected_in_order_currency": None if converted is None else str(converted),
            "due_within_business_days": self.due_within_business_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SupplierRecovery:
        converted, days = data["expected_in_order_currency"], data["due_within_business_days"]
        return cls(
            supplier=str(data["supplier"]),
            currency=str(data["currency"]),
            cost=_decimal(data["cost"]),
            expected=_decimal(data["expected"]),
            expected_in_order_currency=None if converted is None else _decimal(converted),
            due_within_business_days=None if days is None else int(days),
        )


@dataclass(frozen=True)
class Decision:
    """``allowed`` is true only for cancel / refund_items / refund_partial: an escalation is not yet
    allowed (a person decides), a denial never is. ``reasons`` lists every rule that applied, in order,
    escalation sentences last."""

    allowed: bool
    action: Action
    kind: RequestKind  # as evaluated: a cancel after shipment for "not received" is handled as a return
    reason: Reason
    currency: str
    lines: tuple[LineRefund, ...]
    shipping_amount: Decimal
    restocking_fee: Decimal
    refund_total: Decimal
    refund_method: RefundMethod
    notify_customer: bool
    return_required: bool
    return_shipping_paid_by: Payer | None
    shopify_cancel_reason: str | None  # CUSTOMER | INVENTORY | FRAUD | OTHER, for orderCancel
    expected_supplier_recovery: Decimal
    supplier_recoveries: tuple[SupplierRecovery, ...]
    store_exposure: Decimal
    reasons: tuple[str, ...]
    policy_version: str
    evaluated_at: dt.datetime
    # What the decision was made from (``worker.policy.replay.inputs_to_dict``): enough to replay it.
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (Decimals as strings, instants in ISO 8601), inputs included."""
        return {
            "allowed": self.allowed,
            "action": self.action.value,
            "kind": self.kind.value,
            "reason": self.reason.value,
            "currency": self.currency,
            "lines": [line.to_dict() for line in self.lines],
            "shipping_amount": str(self.shipping_amount),
            "restocking_fee": str(self.restocking_fee),
            "refund_total": str(self.refund_total),
            "refund_method": self.refund_method.value,
            "notify_customer": self.notify_customer,
            "return_required": self.return_required,
            "return_shipping_paid_by": None
            if self.return_shipping_paid_by is None
            else self.return_shipping_paid_by.value,
            "shopify_cancel_reason": self.shopify_cancel_reason,
            "expected_supplier_recovery": str(self.expected_supplier_recovery),
            "supplier_recoveries": [r.to_dict() for r in self.supplier_recoveries],
            "store_exposure": str(self.store_exposure),
            "reasons": list(self.reasons),
            "policy_version": self.policy_version,
            "evaluated_at": self.evaluated_at.isoformat(),
            "inputs": dict(self.inputs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The decision ``to_dict`` stored (after a JSON round trip). Raises ``KeyError`` / ``ValueError``
        on a snapshot that is not one: a money path never guesses an amount."""
        payer, cancel_reason = data["return_shipping_paid_by"], data["shopify_cancel_reason"]
        return cls(
            allowed=bool(data["allowed"]),
            action=Action(data["action"]),
            kind=RequestKind(data["kind"]),
            reason=Reason(data["reason"]),
            currency=str(data["currency"]),
            lines=tuple(LineRefund.from_dict(line) for line in data["lines"]),
            shipping_amount=_decimal(data["shipping_amount"]),
            restocking_fee=_decimal(data["restocking_fee"]),
            refund_total=_decimal(data["refund_total"]),
            refund_method=RefundMethod(data["refund_method"]),
            notify_customer=bool(data["notify_customer"]),
            return_required=bool(data["return_required"]),
            return_shipping_paid_by=None if payer is None else Payer(payer),
            shopify_cancel_reason=None if cancel_reason is None else str(cancel_reason),
            expected_supplier_recovery=_decimal(data["expected_supplier_recovery"]),
            supplier_recoveries=tuple(SupplierRecovery.from_dict(r) for r in data["supplier_recoveries"]),
            store_exposure=_decimal(data["store_exposure"]),
            reasons=tuple(str(r) for r in data["reasons"]),
            policy_version=str(data["policy_version"]),
            evaluated_at=dt.datetime.fromisoformat(data["evaluated_at"]),
            # Absent from rows stored before decisions carried their inputs (such a row cannot be replayed).
            inputs=dict(data.get("inputs") or {}),
        )

    @classmethod
    def stored(cls, data: Mapping[str, Any] | None) -> Decision | None:
        """The decision stored on a request or return row (``policy_decision``); ``None`` when there is none."""
        return cls.from_dict(data) if data else None


def _decimal(value: Any) -> Decimal:
    """Amounts are stored as strings (``str(Decimal)``), so this is exact: ``Decimal(str(d)) == d``, digits
    and exponent alike."""
    return Decimal(str(value))
