"""Per-order exposure: refunded to the customer − recovered from the supplier (ledger entries only).

Both sides come from ``ledger_entries`` (unique ``source_ref``: nothing counted twice): the mirror
records ``customer_refund`` entries from Shopify's refund transactions; the supplier side records
``supplier_refund`` entries. ``expected`` is what the policy decisions of the order's finished
cancellation requests and returns expect back from suppliers, ``due`` the supplier refund's due date.

Amounts of different currencies are never added or subtracted: refunded and recovered are the entries in
the order's currency; entries in any other currency (a seller who charges the store in EUR refunds in EUR)
are shown beside them, per currency, and never netted against the order's.

What counts as "to recover" (the total, ``dropsync report exposure`` and the ``dropsync_exposure`` gauge
alike, both through :func:`totals`):

- an order whose supplier was never paid (no supplier order with money paid, no supplier payment or
  refund entry) has nothing to recover: its refund is the store's own money going back, row shown, 0;
- no more can be recovered than the suppliers were paid and have not refunded yet, each in its own
  currency: those paid in the order's currency cap it at what they still hold (paid − refunded); one paid
  in another currency that refunded all it was paid holds nothing. The rest of a larger refund is the
  store's own loss, not a supplier's debt;
- a supplier paid in another currency that still holds money (or refunded in one with no payment known)
  cannot be compared with the customer's refund: the amount is not capped, and the row says so (status
  "to recover (supplier paid in EUR: not converted)");
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

#: Amounts per currency, sorted by currency: what a row holds in currencies other than the order's.
PerCurrency = tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class Exposure:
    #: None: a chargeback whose order is not mirrored yet (``order_name`` is its Shopify reference).
    order_id: int | None
    order_name: str
    currency: str
    #: Both in the order's currency; entries in other currencies are in ``*_elsewhere``.
    refunded_to_customer: Decimal
    recovered_from_supplier: Decimal
    expected_from_supplier: Decimal
    refund_due_at: dt.datetime | None
    supplier_paid: bool = True
    #: What the suppliers can still give back, in the order's currency (``None``: no payment known, or a
    #: supplier in another currency still holds money: not comparable, not capped).
    supplier_refundable: Decimal | None = None
    #: Other currencies in which a supplier still holds money (or refunded with no payment known).
    unconverted: tuple[str, ...] = ()
    refunded_elsewhere: PerCurrency = ()
    recovered_elsewhere: PerCurrency = ()
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
        if self.supplier_refundable is not None:
            owed = min(owed, self.supplier_refundable)
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
        moved = self.refunded_to_customer or self.recovered_from_supplier
        if not moved and not self.refunded_elsewhere and not self.recovered_elsewhere:
            return "nothing refunded"
        if self.exposure < 0:
            return "recovered more than refunded"
        if self.to_recover == 0:
            return "recovered"
        if self.unconverted:
            return f"to recover (supplier paid in {', '.join(self.unconverted)}: not converted)"
        return "to recover"

    @property
    def due_at(self) -> dt.datetime | None:
        return self.refund_due_at if self.to_recover > 0 else None

    def shown(self, amount: Decimal) -> str:
        """``amount`` at the order currency's precision (the ledger keeps four places: 10.4600 → 10.46)."""
        return _shown(amount, self.currency)

    def to_dict(self) -> dict[str, object]:
        m = self.shown
        return {
            "order_id": self.order_id, "order": self.order_name, "currency": self.currency,
            "refunded_to_customer": m(self.refunded_to_customer),
            "recovered_from_supplier": m(self.recovered_from_supplier),
            "refunded_in_other_currencies": {c: _shown(v, c) for c, v in self.refunded_elsewhere},
            "recovered_in_other_currencies": {c: _shown(v, c) for c, v in self.recovered_elsewhere},
            "expected_from_supplier": m(self.expected_from_supplier), "exposure": m(self.exposure),
            "to_recover": m(self.to_recover), "status": self.status,
            "refund_due_at": self.due_at.isoformat() if self.due_at else None,
            "chargebacks": m(self.chargebacks), "at_risk": m(self.at_risk),
        }  # fmt: skip


def _shown(amount: Decimal, currency: str) -> str:
    return str(round_money(amount, currency)) if is_currency(currency) else str(amount)


def shown_elsewhere(amounts: PerCurrency) -> str:
    """Amounts in other currencies, for a text report: `` (+ 10.00 EUR, not converted)``, or empty."""
    if not amounts:
        return ""
    return f" (+ {', '.join(f'{_shown(v, c)} {c}' for c, v in amounts)}, not converted)"


def _sums(session: Session, kind: str) -> dict[int, dict[str, Decimal]]:
    """Per order, per currency: the ``kind`` entries (an entry linked only to a supplier order counts for
    that supplier order's order)."""
    order_key = func.coalesce(LedgerEntry.order_id, SupplierOrder.order_id)
    rows = session.execute(
        select(order_key, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .select_from(LedgerEntry)
        .outerjoin(SupplierOrder, LedgerEntry.supplier_order_id == SupplierOrder.id)
        .where(LedgerEntry.kind == kind)
        .group_by(order_key, LedgerEntry.currency)
    ).all()
    out: dict[int, dict[str, Decimal]] = {}
    for order_id, currency, total in rows:
        if order_id is not None:
            out.setdefault(int(order_id), {})[currency] = Decimal(str(total or 0))
    return out


def _paid_orders(session: Session) -> set[int]:
    paid = set(session.scalars(select(SupplierOrder.order_id).where(SupplierOrder.amount_paid > 0)))
    return {i for i in paid if i is not None} | set(_sums(session, "supplier_payment"))


def _paid_by_currency(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Per order, per currency: what its supplier orders were paid (each supplier order in its own)."""
    rows = session.execute(
        select(SupplierOrder.order_id, SupplierOrder.currency, func.sum(SupplierOrder.amount_paid))
        .where(SupplierOrder.order_id.in_(list(ids)), SupplierOrder.amount_paid > 0)
        .group_by(SupplierOrder.order_id, SupplierOrder.currency)
    ).all()
    out: dict[int, dict[str, Decimal]] = {}
    for order_id, currency, total in rows:
        if order_id is not None:
            out.setdefault(int(order_id), {})[currency] = Decimal(str(total))
    return out


def _refundable(
    currency: str, paid: dict[str, Decimal], recovered: dict[str, Decimal]
) -> tuple[Decimal | None, tuple[str, ...]]:
    """What the suppliers can still give back in ``currency`` (``None``: unknown or not comparable), and the
    other currencies in which one still holds money. A currency is settled once the refunds in it reach what
    was paid in it; a refund in a currency with no payment known settles nothing."""
    unconverted = tuple(
        sorted(
            c for c in {*paid, *recovered}
            if c != currency and not (paid.get(c, Decimal(0)) > 0 and recovered.get(c, Decimal(0)) >= paid[c])
        )
    )  # fmt: skip
    if not paid or unconverted:
        return None, unconverted
    return max(paid.get(currency, Decimal(0)) - recovered.get(currency, Decimal(0)), Decimal(0)), ()


def _elsewhere(amounts: dict[str, Decimal], currency: str) -> PerCurrency:
    return tuple(sorted((c, v) for c, v in amounts.items() if c != currency))


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
    from worker.chargebacks.exposure import at_risk, unlinked

    refunded, recovered = _sums(session, "customer_refund"), _sums(session, "supplier_refund")
    disputed = at_risk(session)
    # A chargeback whose order is not mirrored yet took the money all the same: a row of its own.
    orphans = [] if order_ids is not None else [
        Exposure(order_id=None, order_name=u.reference, currency=u.currency, refunded_to_customer=Decimal(0),
                 recovered_from_supplier=Decimal(0), expected_from_supplier=Decimal(0), refund_due_at=None,
                 supplier_paid=False, chargebacks=u.amount)
        for u in unlinked(session)
    ]  # fmt: skip
    if order_ids is not None:
        ids = set(order_ids)
    else:
        with_requests = set(session.scalars(select(CancellationRequest.order_id)))
        with_returns = set(session.scalars(select(ReturnCase.order_id)))
        ids = set(refunded) | set(recovered) | with_requests | with_returns | set(disputed)
    if not ids:
        return orphans
    paid = _paid_orders(session) | set(recovered)
    expected = _expected(session, ids)
    paid_amounts = _paid_by_currency(session, ids)
    due = dict(
        session.execute(
            select(SupplierOrder.order_id, func.max(SupplierOrder.refund_due_at))
            .where(SupplierOrder.order_id.in_(ids))
            .group_by(SupplierOrder.order_id)
        ).all()
    )
    orders = session.execute(select(Order.id, Order.name, Order.currency).where(Order.id.in_(ids)).order_by(Order.id))
    rows = []
    for order_id, name, currency in orders:
        refunds, recoveries = refunded.get(order_id, {}), recovered.get(order_id, {})
        refundable, unconverted = _refundable(currency, paid_amounts.get(order_id, {}), recoveries)
        rows.append(
            Exposure(
                order_id=order_id, order_name=name, currency=currency,
                refunded_to_customer=refunds.get(currency, Decimal(0)),
                recovered_from_supplier=recoveries.get(currency, Decimal(0)),
                expected_from_supplier=expected.get(order_id, Decimal(0)), refund_due_at=due.get(order_id),
                supplier_paid=order_id in paid, supplier_refundable=refundable, unconverted=unconverted,
                refunded_elsewhere=_elsewhere(refunds, currency), recovered_elsewhere=_elsewhere(recoveries, currency),
                chargebacks=disputed.get(order_id, Decimal(0)),
            )
        )  # fmt: skip
    return rows + orphans


def totals(rows: list[Exposure]) -> dict[str, Decimal]:
    """At risk, per currency: each order's positive remainder where a supplier was paid, plus its
    chargebacks not won, in the order's currency (amounts in other currencies stay on their rows, never
    added).

    A surplus on one order (recovered more than refunded) is not netted against another's loss, nor
    against a chargeback of the same order."""
    out: dict[str, Decimal] = {}
    for row in rows:
        out[row.currency] = out.get(row.currency, Decimal(0)) + row.at_risk
    return {c: round_money(v, c) if is_currency(c) else v for c, v in out.items()}
