"""``dropsync orders list|show`` as a real process, against a committed ledger."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from models import Alert, CancellationRequest, Chargeback, LedgerEntry, SupplierOrder, SupplierOrderItem
from tests.cli.support import dropsync
from tests.policy.test_decision_roundtrip import STORED_BEFORE_INPUTS
from tests.supplier.factories import make_order, make_shop
from worker.db import session_scope
from worker.timeline import record_event


@pytest.fixture
def ledger(committed_db: Engine) -> dict[str, str]:
    """Two orders: #A cancelled with a supplier order, a request, money and a timeline; #B open."""
    with session_scope() as session:
        shop = make_shop(session)
        first = make_order(session, shop)
        first.display_financial_status, first.display_fulfillment_status = "REFUNDED", "UNFULFILLED"
        first.cancelled_at, first.cancel_reason = dt.datetime(2026, 3, 3, tzinfo=dt.UTC), "CUSTOMER"
        second = make_order(session, shop, lines=[("Lamp", 1)])
        second.display_financial_status, second.display_fulfillment_status = "PAID", "UNFULFILLED"
        second.shopify_created_at = dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
        supplier = SupplierOrder(shop_id=shop.id, order_id=first.id, supplier_order_id="8100000000001",
                                 status="closed_cancelled", amount_paid=Decimal("18.00"))  # fmt: skip
        supplier.items.append(SupplierOrderItem(line_item_id=first.line_items[0].id, quantity=2))
        session.add(supplier)
        session.add(CancellationRequest(shop_id=shop.id, order_id=first.id, reason="changed_mind", state="done",
                                        policy_decision=STORED_BEFORE_INPUTS))  # fmt: skip
        session.add(LedgerEntry(shop_id=shop.id, order_id=first.id, kind="customer_refund", amount=Decimal("50.00"),
                                currency="USD", source_ref=f"test:{first.id}:refund",
                                occurred_at=dt.datetime(2026, 3, 3, tzinfo=dt.UTC)))  # fmt: skip
        session.flush()
        record_event(session, shop_id=shop.id, order_id=first.id, kind="note", actor="operator:ann",
                     message="rule [returns] applied")  # fmt: skip
        record_event(session, shop_id=shop.id, supplier_order_id=supplier.id, kind="supplier.status",
                     actor="poller", message="supplier order closed")  # fmt: skip
        return {"first": first.name, "first_gid": first.shopify_gid, "second": second.name}


def test_list_filters_and_json(ledger: dict[str, str]) -> None:
    run = dropsync("orders", "list", "--json")
    assert run.code == 0, run.err
    rows = json.loads(run.out)
    assert [r["name"] for r in rows] == [ledger["second"], ledger["first"]]  # newest first
    assert rows[1]["supplier_orders"] == 1
    assert rows[1]["cancellation_requests"] == 1

    cancelled = json.loads(dropsync("orders", "list", "--status", "cancelled", "--json").out)
    assert [r["name"] for r in cancelled] == [ledger["first"]]
    since = json.loads(dropsync("orders", "list", "--since", "2026-03-04", "--json").out)
    assert [r["name"] for r in since] == [ledger["second"]]

    table = dropsync("orders", "list", "--status", "open")
    assert table.code == 0
    assert ledger["second"] in table.out
    assert ledger["first"] not in table.out

    narrow = dropsync("orders", "list", env={"COLUMNS": "80"})  # a terminal's default width
    assert narrow.code == 0, narrow.err
    lines = narrow.out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if ledger["first"] in line or ledger["second"] in line]
    assert len(rows) == 2, narrow.out
    assert all(" 2026-03-0" in row and "50.00 USD" in row for row in rows), lines
    assert ["UNFULFILLED" in row for row in rows] == [True, False], "the cancelled order says CANCELLED"
    assert not lines[0].startswith("shop"), "one shop: no shop column"


def test_list_of_several_shops_names_each_shop_and_still_fits_80_columns(committed_db: Engine) -> None:
    with session_scope() as session:
        for _ in range(2):
            make_order(session, make_shop(session))
    narrow = dropsync("orders", "list", env={"COLUMNS": "80"})
    assert narrow.code == 0, narrow.err
    lines = narrow.out.splitlines()
    assert lines[0].startswith("shop")
    assert max(len(line) for line in lines) <= 80, narrow.out
    # Two order rows (their names depend on how many orders earlier tests made: count the amounts).
    assert len([line for line in lines if " USD " in line]) == 2, narrow.out


def test_show_by_name_gid_and_json(ledger: dict[str, str]) -> None:
    run = dropsync("orders", "show", ledger["first_gid"], "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["order"]["name"] == ledger["first"]
    assert [s["supplier_order_id"] for s in data["supplier_orders"]] == ["8100000000001"]
    assert [r["state"] for r in data["cancellation_requests"]] == ["done"]
    assert [(m["kind"], Decimal(m["amount"])) for m in data["money"]] == [("customer_refund", Decimal("50.00"))]
    # The timeline includes the supplier order's events, with who did what.
    assert {(e["actor"], e["message"]) for e in data["timeline"]} >= {
        ("operator:ann", "rule [returns] applied"),
        ("poller", "supplier order closed"),
    }

    table = dropsync("orders", "show", ledger["first"])
    assert table.code == 0, table.err
    assert "rule [returns] applied" in table.out  # user text is printed, not parsed as markup
    assert "8100000000001" in table.out
    assert "CANCELLED (CUSTOMER)" in table.out


@pytest.fixture
def disputed(committed_db: Engine) -> str:
    """An order with a LOST chargeback (its alert resolved), one still needing a response (its alert open)
    and an inquiry."""
    due = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
    with session_scope() as session:
        shop = make_shop(session)
        order = make_order(session, shop)
        order.display_financial_status, order.display_fulfillment_status = "PAID", "FULFILLED"
        common = {"shop_id": shop.id, "order_id": order.id, "currency": "USD", "evidence_due_by": due}
        session.add_all(
            [
                Chargeback(
                    dispute_gid="gid://shopify/ShopifyPaymentsDispute/71",
                    dispute_type="CHARGEBACK",
                    reason="PRODUCT_NOT_RECEIVED",
                    status="LOST",
                    amount=Decimal("74.72"),
                    fee=Decimal("15"),
                    evidence_submitted=True,
                    evidence_sent_on=dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC),
                    **common,
                ),
                Chargeback(
                    dispute_gid="gid://shopify/ShopifyPaymentsDispute/72",
                    dispute_type="CHARGEBACK",
                    reason="FRAUDULENT",
                    status="NEEDS_RESPONSE",
                    amount=Decimal("20.00"),
                    fee=Decimal("15"),
                    **common,
                ),
                Chargeback(
                    dispute_gid="gid://shopify/ShopifyPaymentsDispute/73",
                    dispute_type="INQUIRY",
                    reason="CREDIT_NOT_PROCESSED",
                    status="NEEDS_RESPONSE",
                    amount=Decimal("5.00"),
                    **common,
                ),
            ]
        )
        raised = dt.datetime(2026, 3, 6, tzinfo=dt.UTC)
        session.add_all(
            [
                Alert(
                    shop_id=shop.id,
                    order_id=order.id,
                    kind="chargeback_needs_response",
                    message="dispute 71 due",
                    dedupe_key="cb:71",
                    raised_at=raised,
                    resolved_at=raised + dt.timedelta(days=8),
                ),
                Alert(
                    shop_id=shop.id,
                    order_id=order.id,
                    kind="chargeback_evidence_due_near",
                    message="dispute 72 due",
                    dedupe_key="cb:72",
                    raised_at=raised,
                ),
            ]
        )
        return order.name


def test_show_names_chargebacks_and_what_they_took_and_only_the_open_alerts(disputed: str) -> None:
    data = json.loads(dropsync("orders", "show", disputed, "--json").out)
    by_status = {(c["type"], c["status"]): c for c in data["chargebacks"]}
    lost, fought = by_status["CHARGEBACK", "LOST"], by_status["CHARGEBACK", "NEEDS_RESPONSE"]
    assert (lost["reason"], lost["amount"], lost["fee"], lost["evidence_submitted"]) == (
        "PRODUCT_NOT_RECEIVED", "74.72", "15.00", True)  # fmt: skip
    assert (lost["lost"], lost["at_risk"]) == ("89.72", "0.00")  # amount + fee, as `report exposure` counts it
    assert (fought["lost"], fought["at_risk"]) == ("0.00", "35.00")
    assert by_status["INQUIRY", "NEEDS_RESPONSE"]["at_risk"] == "0.00"  # an inquiry moves no money
    assert data["chargeback_totals"] == [{"currency": "USD", "lost": "89.72", "at_risk": "35.00"}]
    assert [a["resolved_at"] is not None for a in data["alerts"]] == [True, False]  # --json keeps both

    run = dropsync("orders", "show", disputed, env={"COLUMNS": "80"})  # a terminal's default width
    assert run.code == 0, run.err
    assert "  chargebacks: lost 89.72 USD · at risk 35.00 USD (amount + fee)" in run.out.splitlines()
    chargebacks = run.out.split("Chargebacks", 1)[1].split("Evidence", 1)[0]
    for shown in ("71", "PRODUCT_NOT_RECEIVED", "LOST", "74.72 USD", "+ fee 15.00", "lost 89.72", "sent 2026-03-10",
                  "72", "NEEDS_RESPONSE", "at risk 35.00", "due 2026-03-20 12:00", "not submitted", "(inquiry)",
                  f"dropsync chargebacks show '{disputed}'"):  # fmt: skip
        assert shown in chargebacks, (shown, chargebacks)
    alerts = run.out.split("Alerts", 1)[1].split("Timeline", 1)[0]
    assert "(open) (1 resolved, not shown: --json lists them)" in alerts
    assert "dispute 72 due" in alerts
    assert "dispute 71 due" not in alerts  # a resolved deadline is not shown as running
    assert max(len(line) for line in run.out.splitlines()) <= 80
    assert "…" not in chargebacks  # nothing cut at 80 columns


def test_errors_are_one_line(ledger: dict[str, str]) -> None:
    dropsync("orders", "show", "#999999").assert_one_line_error(2)
    dropsync("orders", "list", "--status", "bogus").assert_one_line_error(2)
    dropsync("orders", "list", "--since", "yesterday").assert_one_line_error(2)
    typo = dropsync("ordrs", "list")
    assert typo.code == 2
    assert "Traceback" not in typo.err
    assert "No such command" in typo.err


def test_money_is_shown_at_its_currency_precision_not_the_ledgers_four_places() -> None:
    from decimal import Decimal

    from worker.cli.common import at_currency_precision

    shown = at_currency_precision(
        {"order": {"currency": "JPY", "total": Decimal("1230.0000")},
         "lines": [{"unit_price": Decimal("615.0000")}],
         "suppliers": [{"currency": "USD", "amount_paid": Decimal("8.3200")}],
         "quantity": 2},
        "KWD",
    )  # fmt: skip
    assert shown == {
        "order": {"currency": "JPY", "total": Decimal("1230")},
        "lines": [{"unit_price": Decimal("615.000")}],  # the caller's currency (KWD: three places)
        "suppliers": [{"currency": "USD", "amount_paid": Decimal("8.32")}],
        "quantity": 2,
    }  # fmt: skip
    assert [str(shown["order"]["total"]), str(shown["suppliers"][0]["amount_paid"])] == ["1230", "8.32"]
