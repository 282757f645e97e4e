"""Exposure that is true: the report's rows and total and the dropsync_exposure gauge agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from models import SupplierOrder
from tests.observability.test_ledger_metrics import NOW, _entry, _order, _samples, _shop
from worker.cancellation.exposure import exposures, totals
from worker.observability.ledger import read_snapshot, render


def test_rows_total_and_gauge(session: Session) -> None:
    shop = _shop(session)
    never_paid, owed, surplus, recovered = (_order(session, shop) for _ in range(4))
    for order, paid in ((owed, "20.00"), (surplus, "5.00"), (recovered, "9.00")):
        due = NOW + dt.timedelta(days=3)
        so = SupplierOrder(shop_id=shop.id, order_id=order.id, supplier_order_id=f"ae-{order.id}", status="delivered",
                           currency="EUR", amount_paid=Decimal(paid), refund_due_at=due)  # fmt: skip
        session.add(so)
    session.flush()
    _entry(session, never_paid, "customer_refund", "30.00", "EUR")  # the store's own money went back
    _entry(session, owed, "customer_refund", "25.00", "EUR")
    _entry(session, owed, "supplier_refund", "10.00", "EUR")
    _entry(session, surplus, "customer_refund", "4.00", "EUR")
    _entry(session, surplus, "supplier_refund", "5.00", "EUR")
    _entry(session, recovered, "customer_refund", "9.00", "EUR")
    _entry(session, recovered, "supplier_refund", "9.00", "EUR")
    session.flush()

    rows = {r.order_id: r for r in exposures(session)}
    assert (rows[never_paid.id].to_recover, rows[never_paid.id].status) == (Decimal(0), "no supplier paid")
    # 25 refunded, 10 back: 15 short, but the supplier was paid 20 and refunded 10: at most 10 is its debt
    assert (rows[owed.id].to_recover, rows[owed.id].status) == (Decimal("10.00"), "to recover")
    assert rows[owed.id].due_at is not None
    assert rows[surplus.id].exposure == Decimal("-1.00")
    assert rows[surplus.id].status == "recovered more than refunded"
    assert rows[surplus.id].to_recover == 0
    assert rows[recovered.id].due_at is None  # recovered: the due date is gone
    assert rows[recovered.id].to_dict()["refund_due_at"] is None
    assert totals(list(rows.values())) == {"EUR": Decimal("10.00")}

    gauge = _samples(render(read_snapshot(session.connection(), NOW), NOW))
    assert gauge[("dropsync_exposure", (("currency", "EUR"),))] == 10.0
