"""Per-order exposure: refunded to the customer − recovered from the supplier (ledger entries only).

Both sides come from ``ledger_entries`` (unique ``source_ref``: nothing counted twice): the mirror
records ``customer_refund`` entries from Shopify's refund transactions; the supplier side records
``supplier_refund`` entries. ``expected`` is what the policy decisions of the order's finished
cancellation requests and returns expect back from suppliers, ``due`` the supplier refund's due date.

What counts as "to recover" (the total, ``dropsync report exposure`` and the ``dropsync_exposure`` gauge
alike, both through :func:`totals`):

- an order whose supplier was never paid (no supplier order with money paid, no supplier payment or
  refund entry) has nothing to recover: its refund is the store's own money going back, row shown, 0;
- no more can be recovered than the supplier was paid and has not refunded yet (when the supplier was
  paid in the order's currency; across currencies the amounts cannot be compared and are not capped):
  the rest of a larger refund is the store's own loss, not a supplier's debt;
- a row where the supplier returned more than the customer got is shown negative (a surplus) and never
  offsets another order's loss in the total;
- the due date is dropped once nothing is left to recover;
- a Shopify Payments chargeback not won adds its disputed amount and the chargeback fee
  (``worker.chargebacks.exposure``): money at risk whatever the supplier owes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CancellationRequest, LedgerEntry, Order, ReturnCase, SupplierOrder
from worker.money import is_currency, round_money


@dataclass(frozen=True)
class Exposure:
    order_id: int
    order_name: str
    currency: str
    refunded_to_customer: Decimal
    recovered_from_supplier: Decimal
    expected_from_supplier: Decimal
    refund_due_at: dt.datetime | None
    supplier_paid: bool = True
    #: Paid to suppliers in the order's currency (``None``: unknown or in another currency).
    supplier_paid_amount: Decimal | None = None
    #: Disputed amount + chargeback fee of chargebacks not won (``worker.chargebacks.exposure``).
    chargebacks: Decimal = Decimal(0)

    @property
    def exposure(self) -> Decimal:
        """Refunded − recovered, signed: negative when the supplier gave back more than was refunded."""
        return self.refunded_to_customer - self.recovered_from_supplier

    @property
    def to_recover(self) -> Decimal:
        """What is still owed by suppliers for this order (0 when no supplier was ever paid)."""
        if not self.supplier_paid:
            return Decimal(0)
        owed = max(self.exposure, Decimal(0))
        if self.supplier_paid_amount is not None:
            owed = min(owed, max(self.supplier_paid_amount - self.recovered_from_supplier, Decimal(0)))
        return owed

    @property
    def at_risk(self) -> Decimal:
        """What this order adds to the total: still to recover from suppliers + chargebacks not won."""
        return self.to_recover + self.chargebacks

    @property
    def status(self) -> str:
        if self.chargebacks > 0 and self.to_recover == 0:
            return "chargeback not won"
        if not self.supplier_paid:
            return "no supplier paid"
        if self.refunded_to_customer == 0 and self.recovered_from_supplier == 0:
            return "nothing refunded"
        if self.exposure < 0:
            return "recovered more than refunded"
        return "recovered" if self.to_recover == 0 else "to recover"

    @property
    def due_at(self) -> dt.datetime | None:
        return self.refund_due_at if self.to_recover > 0 else None

    def shown(self, amount: Decimal) -> str:
        """``amount`` at the order currency's precision (the ledger keeps four places: 10.4600 → 10.46)."""
        return str(round_money(amount, self.currency)) if is_currency(self.currency) else str(amount)

    def to_dict(self) -> dict[str, object]:
        m = self.shown
        return {
            "order_id": self.order_id, "order": self.order_name, "currency": self.currency,
            "refunded_to_customer": m(self.refunded_to_customer),
            "recovered_from_supplier": m(self.recovered_from_supplier),
            "expected_from_supplier": m(self.expected_from_supplier), "exposure": m(self.exposure),
            "to_recover": m(self.to_recover), "status": self.status,
            "refund_due_at": self.due_at.isoformat() if self.due_at else None,
            "chargebacks": m(self.chargebacks), "at_risk": m(self.at_risk),
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


def _paid_orders(session: Session) -> set[int]:
    paid = set(session.scalars(select(SupplierOrder.order_id).where(SupplierOrder.amount_paid > 0)))
    return {i for i in paid if i is not None} | set(_sums(session, "supplier_payment"))


def _paid_in_order_currency(session: Session, ids: Iterable[int]) -> dict[int, Decimal]:
    """Per order: what its supplier orders were paid, when all of them were paid in the order's currency."""
    rows = session.execute(
        select(SupplierOrder.order_id, SupplierOrder.currency, func.sum(SupplierOrder.amount_paid))
        .join(Order, Order.id == SupplierOrder.order_id)
        .where(SupplierOrder.order_id.in_(list(ids)), SupplierOrder.amount_paid > 0)
        .group_by(SupplierOrder.order_id, SupplierOrder.currency, Order.currency)
        .having(SupplierOrder.currency == Order.currency)
    ).all()
    mixed = set(
        session.scalars(
            select(SupplierOrder.order_id)
            .join(Order, Order.id == SupplierOrder.order_id)
            .where(SupplierOrder.order_id.in_(list(ids)), SupplierOrder.amount_paid > 0,
                   SupplierOrder.currency != Order.currency)
        )
    )  # fmt: skip
    return {int(o): Decimal(str(total)) for o, _, total in rows if o is not None and o not in mixed}


def _expected(session: Session, ids: Iterable[int]) -> dict[int, Decimal]:
    """Per order: the supplier recovery the latest finished request's and every finished return's decision expect."""
    out: dict[int, Decimal] = {}
    wanted = list(ids)
    requests = session.execute(
        select(CancellationRequest.order_id, CancellationRequest.policy_decision)
        .where(CancellationRequest.order_id.in_(wanted), CancellationRequest.state == "done")
        .order_by(CancellationRequest.id)
    ).all()
    for order_id, decision in requests:  # the latest one wins, as before
        out[order_id] = Decimal(str((decision or {}).get("expected_supplier_recovery", "0")))
    returns = session.execute(
        select(ReturnCase.order_id, ReturnCase.policy_decision).where(
            ReturnCase.order_id.in_(wanted), ReturnCase.state == "done", ReturnCase.refund_total > 0
        )
    ).all()
    for order_id, decision in returns:
        out[order_id] = out.get(order_id, Decimal(0)) + Decimal(
            str((decision or {}).get("expected_supplier_recovery", "0"))
        )
    return out


def exposures(session: Session, order_ids: list[int] | None = None) -> list[Exposure]:
    """Every order with a customer or supplier refund, a cancellation request, a return or a chargeback not
    won (or ``order_ids``)."""
    from worker.chargebacks.exposure import at_risk

    refunded, recovered = _sums(session, "customer_refund"), _sums(session, "supplier_refund")
    disputed = at_risk(session)
    if order_ids is not None:
        ids = set(order_ids)
    else:
        with_requests = set(session.scalars(select(CancellationRequest.order_id)))
        with_returns = set(session.scalars(select(ReturnCase.order_id)))
        ids = set(refunded) | set(recovered) | with_requests | with_returns | set(disputed)
    if not ids:
        return []
    paid = _paid_orders(session) | set(recovered)
    expected = _expected(session, ids)
    paid_amounts = _paid_in_order_currency(session, ids)
    due = dict(
        session.execute(
            select(SupplierOrder.order_id, func.max(SupplierOrder.refund_due_at))
            .where(SupplierOrder.order_id.in_(ids))
            .group_by(SupplierOrder.order_id)
        ).all()
    )
    orders = session.execute(select(Order.id, Order.name, Order.currency).where(Order.id.in_(ids)).order_by(Order.id))
    return [
        Exposure(
            order_id,
            name,
            currency,
            refunded.get(order_id, Decimal(0)),
            recovered.get(order_id, Decimal(0)),
            expected.get(order_id, Decimal(0)),
            due.get(order_id),
            order_id in paid,
            paid_amounts.get(order_id),
            disputed.get(order_id, Decimal(0)),
        )
        for order_id, name, currency in orders
    ]


def totals(rows: list[Exposure]) -> dict[str, Decimal]:
    """At risk, per currency: each order's positive remainder where a supplier was paid, plus its
    chargebacks not won.

    A surplus on one order (recovered more than refunded) is not netted against another's loss, nor
    against a chargeback of the same order."""
    out: dict[str, Decimal] = {}
    for row in rows:
        out[row.currency] = out.get(row.currency, Decimal(0)) + row.at_risk
    return {c: round_money(v, c) if is_currency(c) else v for c, v in out.items()}
