"""Per-order exposure: refunded to the customer − recovered from the supplier (ledger entries only).

Both sides come from ``ledger_entries`` (unique ``source_ref``: nothing counted twice): the mirror
records ``customer_refund`` entries from Shopify's refund transactions; the supplier side records
``supplier_refund`` entries. ``expected`` is what the policy decision expects back from suppliers,
``due`` the supplier refund's due date (``SupplierOrder.refund_due_at``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CancellationRequest, LedgerEntry, Order, SupplierOrder


@dataclass(frozen=True)
class Exposure:
    order_id: int
    order_name: str
    currency: str
    refunded_to_customer: Decimal
    recovered_from_supplier: Decimal
    expected_from_supplier: Decimal
    refund_due_at: dt.datetime | None
    # Disputed amount + chargeback fee of chargebacks not won (worker.chargebacks.exposure).
    chargebacks: Decimal = Decimal(0)

    @property
    def exposure(self) -> Decimal:
        return self.refunded_to_customer - self.recovered_from_supplier + self.chargebacks

    def to_dict(self) -> dict[str, object]:
        return {
            "order_id": self.order_id, "order": self.order_name, "currency": self.currency,
            "refunded_to_customer": str(self.refunded_to_customer),
            "recovered_from_supplier": str(self.recovered_from_supplier),
            "expected_from_supplier": str(self.expected_from_supplier), "exposure": str(self.exposure),
            "refund_due_at": self.refund_due_at.isoformat() if self.refund_due_at else None,
            "chargebacks": str(self.chargebacks),
        }  # fmt: skip


def _sums(session: Session, kind: str) -> dict[int, Decimal]:
    order_key = func.coalesce(LedgerEntry.order_id, SupplierOrder.order_id)
    rows = session.execute(
        select(order_key, func.sum(LedgerEntry.amount))
        .select_from(LedgerEntry)
        .outerjoin(SupplierOrder, LedgerEntry.supplier_order_id == SupplierOrder.id)
        .where(LedgerEntry.kind == kind)
        .group_by(order_key)
    ).all()
    return {int(order_id): Decimal(str(total or 0)) for order_id, total in rows if order_id is not None}


def exposures(session: Session, order_ids: list[int] | None = None) -> list[Exposure]:
    """Every order with a customer refund, a supplier refund, a cancellation request or a chargeback not
    won (or ``order_ids``)."""
    from worker.chargebacks.exposure import at_risk

    refunded, recovered = _sums(session, "customer_refund"), _sums(session, "supplier_refund")
    with_requests = set(session.scalars(select(CancellationRequest.order_id)))
    disputed = at_risk(session)
    ids = set(order_ids) if order_ids is not None else set(refunded) | set(recovered) | with_requests | set(disputed)
    if not ids:
        return []
    orders = session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.id)).all()
    out = []
    for order in orders:
        expected, due = _expected(session, order.id)
        out.append(
            Exposure(
                order.id,
                order.name,
                order.currency,
                refunded.get(order.id, Decimal(0)),
                recovered.get(order.id, Decimal(0)),
                expected,
                due,
                disputed.get(order.id, Decimal(0)),
            )
        )
    return out


def _expected(session: Session, order_id: int) -> tuple[Decimal, dt.datetime | None]:
    request = session.scalars(
        select(CancellationRequest)
        .where(CancellationRequest.order_id == order_id, CancellationRequest.state == "done")
        .order_by(CancellationRequest.id.desc())
    ).first()
    expected = (
        Decimal(str((request.policy_decision or {}).get("expected_supplier_recovery", "0"))) if request else Decimal(0)
    )
    due = session.scalar(select(func.max(SupplierOrder.refund_due_at)).where(SupplierOrder.order_id == order_id))
    return expected, due


def totals(rows: list[Exposure]) -> dict[str, Decimal]:
    """Total exposure per currency (only positive per-order refund gaps add up: a surplus is not netted,
    not even against a chargeback of the same order)."""
    out: dict[str, Decimal] = {}
    for row in rows:
        gap = max(row.refunded_to_customer - row.recovered_from_supplier, Decimal(0))
        out[row.currency] = out.get(row.currency, Decimal(0)) + gap + row.chargebacks
    return out
