"""Exposure across currencies: a store selling in USD whose seller charges it in EUR. Amounts of different
currencies are never added or subtracted; a supplier that refunded all it was paid leaves nothing to
recover; what cannot be compared is shown as such, in the report, its total and the gauge alike."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import LineItem, Order, Shop, SupplierOrder
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, client, published, sandbox, shop
from tests.observability.test_ledger_metrics import NOW, _entry, _order, _samples, _shop
from tests.returns.conftest import cli, damaged_return_done, fulfilled_order, return_case
from tests.support.cli import InProcess
from worker.cancellation.exposure import exposures, totals
from worker.db import session_scope
from worker.observability.ledger import read_snapshot, render

__all__ = ["cli", "client", "published", "sandbox", "shop"]


def test_after_shipment_exposure_owes_nothing_once_a_supplier_paid_in_another_currency_refunded_all_it_was_paid(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A USD store buys from a seller who charges it in EUR (10.00 EUR). An item arrives damaged: the customer
    is refunded through the return, the seller refunds the whole 10.00 EUR after the dispute. There is nothing
    more the supplier can give back: nothing is "to recover", no due date, nothing at risk in the total; the
    10.00 EUR is shown beside the USD figures, never subtracted from them."""
    _, order_id, so_id = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        so.currency, so.amount_paid = "EUR", Decimal("10.00")  # the seller charges this store in euros
        line = session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        order_name, currency = session.get_one(Order, order_id).name, session.get_one(Order, order_id).currency
        ae_number = so.supplier_order_id
    assert currency == "USD"
    assert line is not None
    return_id = damaged_return_done(client, order_id, line)
    assert cli("dispute", "open", ae_number, "--reason", "damaged")[0] == 0
    code, _, err = cli("dispute", "resolve", ae_number, "refunded", "--refund", "10.00")
    assert code == 0, err
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        assert (so.amount_refunded, so.amount_paid, so.currency) == (Decimal("10.00"), Decimal("10.00"), "EUR")
    code, out, err = cli("report", "exposure", order_name, "--json")
    assert code == 0, err
    report = json.loads(out)
    (row,) = report["orders"]
    assert Decimal(row["to_recover"]) == 0, (
        f"the supplier refunded all {so.amount_paid} EUR it was paid, yet the report says {row['to_recover']} "
        f"{row['currency']} is still to recover from it ({row['status']}); total at risk {report['total']}"
    )
    assert (row["status"], row["refund_due_at"], Decimal(row["at_risk"])) == ("recovered", None, Decimal(0))
    assert Decimal(row["refunded_to_customer"]) == return_case(return_id).refund_total
    assert Decimal(row["recovered_from_supplier"]) == 0  # no USD came back: EUR is not subtracted from USD
    assert row["recovered_in_other_currencies"] == {"EUR": "10.00"}
    assert {c: Decimal(v) for c, v in report["total"].items()} == {"USD": Decimal(0)}

    monkeypatch.setenv("COLUMNS", "250")  # one line per row: the cells are not wrapped
    code, out, err = cli("report", "exposure", order_name)  # the table says it too
    assert code == 0, err
    assert "10.00 EUR, not converted" in out


def _supplier_order(session: Session, order: Order, currency: str, paid: str, refunded: str = "0") -> SupplierOrder:
    so = SupplierOrder(
        shop_id=order.shop_id, order_id=order.id, supplier_order_id=f"ae-{order.id}-{currency}", status="delivered",
        currency=currency, amount_paid=Decimal(paid), amount_refunded=Decimal(refunded),
    )  # fmt: skip
    session.add(so)
    session.flush()
    if Decimal(refunded) > 0:
        _entry(session, order, "supplier_refund", refunded, currency, supplier_order_id=so.id)
    return so


def test_amounts_in_another_currency_are_never_netted_and_what_cannot_be_compared_says_so(session: Session) -> None:
    shop = _shop(session)
    settled, partly, mixed = (_order(session, shop, "USD") for _ in range(3))
    _supplier_order(session, settled, "EUR", "10.00", refunded="10.00")  # refunded all it was paid
    _supplier_order(session, partly, "EUR", "10.00", refunded="4.00")  # still holds 6.00 EUR
    _supplier_order(session, mixed, "EUR", "10.00", refunded="10.00")  # nothing left in EUR ...
    _supplier_order(session, mixed, "USD", "8.00", refunded="3.00")  # ... 5.00 USD left with this one
    for order in (settled, partly, mixed):
        _entry(session, order, "customer_refund", "13.85", "USD")
    session.flush()

    rows = {r.order_id: r for r in exposures(session)}
    row = rows[settled.id]
    assert (row.to_recover, row.exposure, row.status) == (Decimal(0), Decimal("13.85"), "recovered")
    assert row.recovered_elsewhere == (("EUR", Decimal("10.00")),)

    # 4.00 EUR back cannot be subtracted from 13.85 USD, and 6.00 EUR held cannot cap it: all of it shown
    row = rows[partly.id]
    assert (row.recovered_from_supplier, row.to_recover) == (Decimal(0), Decimal("13.85"))
    assert row.status == "to recover (supplier paid in EUR: not converted)"
    assert row.to_dict()["recovered_in_other_currencies"] == {"EUR": "4.00"}

    # the EUR supplier is settled: only the USD one can still give back, 8.00 − 3.00
    row = rows[mixed.id]
    assert (row.recovered_from_supplier, row.exposure) == (Decimal("3.00"), Decimal("10.85"))
    assert (row.to_recover, row.status) == (Decimal("5.00"), "to recover")

    assert totals(list(rows.values())) == {"USD": Decimal("18.85")}  # 0 + 13.85 + 5.00, no EUR added
    gauge = _samples(render(read_snapshot(session.connection(), NOW), NOW))
    assert gauge[("dropsync_exposure", (("currency", "USD"),))] == pytest.approx(18.85)
    assert ("dropsync_exposure", (("currency", "EUR"),)) not in gauge
