"""Supplier recovery for several returns of one order: each refund the seller should pay back gets its own
dispute window, after an earlier dispute of the same supplier order was opened and settled (real Shopify
sandbox, real database; the operator CLI in process)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import select

from integrations.aliexpress import status as st
from integrations.shopify.client import ShopifyClient
from models import Alert, Dispute, LineItem, Order, Shop, SupplierOrder
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import (
    Published,
    client,
    damaged_return_done,
    fulfilled_order,
    published,
    return_case,
    sandbox,
    shop,
)
from tests.support.cli import InProcess
from worker.db import session_scope
from worker.deadlines.alerts import raise_due_alerts
from worker.deadlines.rules import DISPUTE_WINDOW, DeadlinePolicy, findings

__all__ = ["client", "published", "sandbox", "shop"]

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def _expected(return_id: int) -> Decimal:
    return Decimal(str((return_case(return_id).policy_decision or {})["expected_supplier_recovery"]))


def _dispute_window_rows(cli: InProcess, order_name: str) -> list[dict[str, object]]:
    code, out, err = cli("deadlines", "--json")
    assert code == 0, err
    return [r for r in json.loads(out) if r["order"] == order_name and str(r["kind"]).startswith("dispute_window")]


def _window_alerts(so_id: int) -> list[tuple[int, bool]]:
    """The deadline sweep run now; then the supplier order's dispute-window alerts: (id, still open)."""
    with session_scope() as session:
        raise_due_alerts(session, utcnow(), DeadlinePolicy.from_settings())
        query = select(Alert).where(Alert.supplier_order_id == so_id, Alert.kind.startswith("dispute_window"))
        return [(a.id, a.resolved_at is None) for a in session.scalars(query.order_by(Alert.id))]


def _lines(order_id: int) -> tuple[list[int], str, str]:
    with session_scope() as session:
        lines = list(session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)))
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).one()
        return lines, session.get_one(Order, order_id).name, so.supplier_order_id


def test_after_shipment_a_second_damaged_return_of_an_order_gets_its_supplier_recovery_deadline(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess
) -> None:
    """Two items of one order arrive damaged, a week apart. The first return is refunded, the dispute with the
    seller opened and settled for that item. The second return is refunded too: it gets its own
    ``dispute_window`` deadline in ``dropsync deadlines`` (and its alert) until a dispute is recorded for it,
    although the supplier order already carries the first, resolved dispute."""
    _, order_id, so_id = fulfilled_order(sandbox, client, shop)
    lines, order_name, ae_number = _lines(order_id)
    first = damaged_return_done(client, order_id, lines[0])
    assert len(_dispute_window_rows(cli, order_name)) == 1  # the first refund: open a dispute
    (first_alert,) = _window_alerts(so_id)
    assert first_alert[1]
    code, _, err = cli("dispute", "open", ae_number, "--reason", "damaged")
    assert code == 0, err
    assert _dispute_window_rows(cli, order_name) == []
    assert _window_alerts(so_id) == [(first_alert[0], False)]  # the dispute recorded resolves the alert
    expected = _expected(first)
    assert expected > 0
    code, _, err = cli("dispute", "resolve", ae_number, "partly_refunded", "--refund", str(expected))
    assert code == 0, err
    assert _dispute_window_rows(cli, order_name) == []  # the first one is settled
    assert _window_alerts(so_id) == [(first_alert[0], False)]
    with session_scope() as session:  # the next poll: AliExpress shows the order completed after the dispute
        so = session.get_one(SupplierOrder, so_id)
        so.status, so.closed_at = "closed_completed", so.delivered_at

    second = damaged_return_done(client, order_id, lines[1])
    code, out, _ = cli("report", "exposure", order_name, "--json")
    (row,) = json.loads(out)["orders"]
    assert Decimal(row["to_recover"]) > 0  # the second refund is owed by the seller ...
    assert _expected(second) > 0
    # ... and dropsync deadlines asks for its claim, with an alert of its own
    (window,) = _dispute_window_rows(cli, order_name)
    assert window["kind"] == "dispute_window_near"
    alerts = _window_alerts(so_id)
    assert alerts[0] == (first_alert[0], False)
    assert [is_open for _, is_open in alerts[1:]] == [True], alerts

    code, _, err = cli("dispute", "open", ae_number, "--reason", "damaged")
    assert code == 0, err
    assert _dispute_window_rows(cli, order_name) == []
    assert all(not is_open for _, is_open in _window_alerts(so_id))


def test_a_second_refund_with_the_same_window_end_alerts_again_and_a_backdated_dispute_covers_it(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess
) -> None:
    """Both refunds come after the AliExpress order completed: both windows end 15 days after completion, the
    same due date. The second refund still raises an alert of its own (the first stays resolved); a dispute
    recorded after the refund covers it even when its ``--at`` says it was opened on AliExpress earlier."""
    _, order_id, so_id = fulfilled_order(sandbox, client, shop, supplier_status=st.CLOSED_COMPLETED)
    lines, order_name, ae_number = _lines(order_id)
    first = damaged_return_done(client, order_id, lines[0])
    (alert,) = _window_alerts(so_id)
    assert alert[1]
    assert cli("dispute", "open", ae_number, "--reason", "damaged")[0] == 0
    code, _, err = cli("dispute", "resolve", ae_number, "partly_refunded", "--refund", str(_expected(first)))
    assert code == 0, err
    assert _window_alerts(so_id) == [(alert[0], False)]
    with session_scope() as session:  # the next poll: AliExpress shows the order completed again
        session.get_one(SupplierOrder, so_id).status = st.CLOSED_COMPLETED

    before_second = utcnow()
    damaged_return_done(client, order_id, lines[1])
    assert [r["kind"] for r in _dispute_window_rows(cli, order_name)] == ["dispute_window_near"]
    alerts = _window_alerts(so_id)
    assert alerts[0] == (alert[0], False)
    assert [is_open for _, is_open in alerts[1:]] == [True], alerts  # the same due date, a new claim
    with session_scope() as session:
        first_due, second_due = (session.get_one(Alert, a).due_at for a in (alerts[0][0], alerts[1][0]))
    assert first_due == second_due

    opened = (before_second - dt.timedelta(minutes=5)).isoformat()
    code, _, err = cli("dispute", "open", ae_number, "--reason", "damaged", "--at", opened)
    assert code == 0, err
    code, _, err = cli("dispute", "resolve", ae_number, "rejected")
    assert code == 0, err
    assert _dispute_window_rows(cli, order_name) == []
    assert [is_open for _, is_open in _window_alerts(so_id)] == [False, False]


def _so_with_dispute(state: str, recorded: dt.datetime) -> SupplierOrder:
    dispute = Dispute(reason="damaged", state=state, opened_at=recorded - dt.timedelta(days=1), created_at=recorded)
    ends = NOW + dt.timedelta(days=10)
    return SupplierOrder(status=st.CLOSED_COMPLETED, dispute_window_ends_at=ends, disputes=[dispute])


def _window(so: SupplierOrder, asked: dt.datetime | None) -> list[str]:
    so.recovery_asked_at = asked
    found = findings(so, NOW, DeadlinePolicy())
    return [f.stage for f in found if f.kind == DISPUTE_WINDOW]


def test_the_dispute_window_is_covered_by_an_open_dispute_or_one_recorded_since_the_refund() -> None:
    asked = NOW - dt.timedelta(days=2)
    assert _window(_so_with_dispute("resolved", asked - dt.timedelta(days=1)), asked) == ["near"]  # earlier goods
    assert _window(_so_with_dispute("resolved", asked), asked) == []
    assert _window(_so_with_dispute("resolved", asked + dt.timedelta(hours=1)), asked) == []
    assert _window(_so_with_dispute("open", asked - dt.timedelta(days=1)), asked) == []  # still the open claim
    assert _window(_so_with_dispute("resolved", asked - dt.timedelta(days=1)), None) == []  # no refund known
