"""Each cross-check rule on the ledger: one alert while the two sides disagree, resolved when they agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Alert, Order, SupplierOrder, TimelineEvent
from tests.supplier.factories import T0, make_order
from worker.crosscheck import rules
from worker.crosscheck.service import check_orders, findings_for
from worker.deadlines.alerts import raise_due_alerts
from worker.deadlines.rules import DeadlinePolicy
from worker.supplier import disputes, service

NOW = T0 + dt.timedelta(hours=6)
SETTINGS = rules.Settings(unlinked_after=dt.timedelta(hours=48))


def _linked(session: Session, status: str, *, number: str = "8123456789012345", **fields: object) -> SupplierOrder:
    order = make_order(session)
    order.display_financial_status = "PAID"
    order.display_fulfillment_status = "UNFULFILLED"
    so = service.link_supplier_order(session, order, number, None, "operator", now=T0)
    so.status, so.paid_at, so.amount_paid = status, T0, Decimal("12.00")
    for name, value in fields.items():
        setattr(so, name, value)
    session.flush()
    return so


def _open(session: Session, order_id: int) -> list[str]:
    rows = session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.resolved_at.is_(None)))
    return sorted(a.kind for a in rows)


def _run(session: Session, order_id: int, now: dt.datetime = NOW) -> list[str]:
    check_orders(session, [order_id], now, SETTINGS)
    return _open(session, order_id)


def test_shopify_cancelled_while_supplier_awaits_shipment_alerts_once_then_resolves(session: Session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT)
    order = so.order_id
    assert order is not None
    assert _run(session, order) == []
    so_order = session.get_one(SupplierOrder, so.id)
    shop_order = session.get_one(Order, order)
    shop_order.cancelled_at, shop_order.display_financial_status = NOW, "REFUNDED"
    session.flush()
    assert _run(session, order) == ["shopify_cancelled_supplier_live"]
    assert _run(session, order, NOW + dt.timedelta(minutes=5)) == ["shopify_cancelled_supplier_live"]
    alert = session.scalars(select(Alert).where(Alert.order_id == order)).one()  # one, however often it runs
    assert "ask the seller to cancel" in alert.message
    assert shop_order.name in alert.message
    assert alert.command == f"dropsync supplier cancel-requested '{shop_order.name}'"
    # The operator asks the seller: the action is taken, the alert resolves (and says so on the timeline).
    service.record_cancellation_requested(session, so_order, "operator:test", NOW)
    assert _run(session, order) == []
    resolved = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "alert.resolved")).all()
    assert [e.order_id for e in resolved] == [order]


def test_after_a_refusal_the_advice_is_a_dispute_never_confirm(session: Session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT)
    shop_order = session.get_one(Order, so.order_id)
    shop_order.cancelled_at = NOW
    service.record_cancellation_requested(session, so, "operator:test", NOW)
    service.record_seller_refused(session, so, "operator:test", NOW + dt.timedelta(hours=3))
    assert so.seller_silence_deadline is None
    found = findings_for(session, [shop_order.id], NOW + dt.timedelta(days=3), SETTINGS)
    assert [f.disagreement.rule for f in found] == ["shopify_cancelled_supplier_live"]
    advice = found[0].disagreement
    assert "refused" in advice.message
    assert "dispute" in advice.message
    assert "confirm" not in advice.message
    assert advice.command.startswith("dropsync dispute open")
    # The dispute is opened: nothing left to advise.
    disputes.open_dispute(session, so, "not_shipped", "operator:test", NOW + dt.timedelta(days=1))
    assert findings_for(session, [shop_order.id], NOW + dt.timedelta(days=3), SETTINGS) == []


def test_supplier_closed_refunded_while_shopify_open_is_flagged(session: Session) -> None:
    so = _linked(session, st.CLOSED_CANCELLED, closed_at=NOW, amount_refunded=Decimal("12.00"))
    assert so.order_id is not None
    assert _run(session, so.order_id) == ["supplier_cancelled_shopify_open"]
    alert = session.scalars(select(Alert).where(Alert.order_id == so.order_id)).one()
    assert "cancel and refund the customer, or re-order elsewhere" in alert.message
    assert alert.due_at == NOW + dt.timedelta(hours=24)
    # Re-ordered elsewhere: the goods still come, the sides agree again.
    service.link_supplier_order(session, session.get_one(Order, so.order_id), "8123456789019999", [], "operator")
    assert _run(session, so.order_id) == []


def test_supplier_shipped_while_shopify_cancelled_until_a_dispute(session: Session) -> None:
    so = _linked(session, st.SHIPPED, shipped_at=NOW, protection_ends_at=NOW + dt.timedelta(days=60))
    order = session.get_one(Order, so.order_id)
    order.cancelled_at = NOW
    assert _run(session, order.id) == ["supplier_shipped_shopify_cancelled"]
    disputes.open_dispute(session, so, "not_as_described", "operator:test", NOW)
    assert _run(session, order.id) == []


def test_shipped_for_a_cancelled_order_advises_the_recovery_until_the_money_is_back(session: Session) -> None:
    so = _linked(session, st.DELIVERED, shipped_at=NOW, delivered_at=NOW)
    order = session.get_one(Order, so.order_id)
    order.cancelled_at, order.display_financial_status = NOW, "REFUNDED"
    session.flush()
    assert _run(session, order.id) == ["supplier_shipped_shopify_cancelled"]
    alert = session.scalars(select(Alert).where(Alert.order_id == order.id)).one()
    assert "arrange a return" in alert.message
    assert "open a dispute" in alert.message
    # The command acts (records the dispute) on this supplier order, even when the order has several.
    assert alert.command == f"dropsync dispute open {so.supplier_order_id} --reason returned_to_seller"
    # The seller refunds it all without a dispute (the return reached it): nothing left to recover.
    service.record_supplier_refund(session, so, Decimal("12.00"), "USD", "operator:test", NOW)
    assert _run(session, order.id) == []


@pytest.mark.parametrize("shopify_status", ["REQUEST_DECLINED", "ON_HOLD", "PENDING_FULFILLMENT", "OPEN"])
def test_delivered_while_shopify_has_not_shipped_in_any_form(session: Session, shopify_status: str) -> None:
    so = _linked(session, st.DELIVERED, delivered_at=NOW, amount_paid=Decimal("10.00"))
    order = session.get_one(Order, so.order_id)
    order.display_fulfillment_status = shopify_status
    session.flush()
    assert _run(session, order.id) == ["supplier_delivered_shopify_unfulfilled"]
    order.display_fulfillment_status = "FULFILLED"
    session.flush()
    assert _run(session, order.id) == []


def test_unlinked_orders_fulfilled_or_paid_too_long(session: Session) -> None:
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    session.flush()
    assert _run(session, order.id, T0 + dt.timedelta(hours=47)) == []
    assert _run(session, order.id, T0 + dt.timedelta(hours=49)) == ["paid_without_supplier"]
    order.display_fulfillment_status = "FULFILLED"
    session.flush()
    assert _run(session, order.id, T0 + dt.timedelta(hours=50)) == ["fulfilled_without_supplier"]
    service.link_supplier_order(session, order, "8123456789012345", None, "operator", now=T0)
    assert _run(session, order.id, T0 + dt.timedelta(hours=51)) == []


def test_delivered_while_unfulfilled_and_amounts_disagree(session: Session) -> None:
    so = _linked(session, st.DELIVERED, delivered_at=NOW, amount_paid=Decimal("80.00"))
    assert so.order_id is not None
    assert _run(session, so.order_id) == ["amounts_disagree", "supplier_delivered_shopify_unfulfilled"]
    alert = session.scalars(select(Alert).where(Alert.kind == "amounts_disagree")).one()
    assert "sold for 50.00 USD but 80.00 USD was paid" in alert.message
    so.amount_paid = Decimal("30.00")
    session.get_one(Order, so.order_id).display_fulfillment_status = "FULFILLED"
    session.flush()
    assert _run(session, so.order_id) == []


def test_tracking_due_advice_disappears_once_the_dispute_is_opened(session: Session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT)
    service.record_shipped_claim(session, so, [], "operator:test", T0)
    assert so.tracking_due_at is not None
    later = so.tracking_due_at + dt.timedelta(hours=1)
    raised = raise_due_alerts(session, later, DeadlinePolicy())
    assert [a.kind for a in raised] == ["tracking_due_passed"]
    disputes.open_dispute(session, so, "invalid_tracking", "operator:test", later)
    raise_due_alerts(session, later + dt.timedelta(minutes=5), DeadlinePolicy())
    assert session.get_one(Alert, raised[0].id).resolved_at is not None


def test_history_brought_in_by_a_backfill_is_not_news(session: Session) -> None:
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "FULFILLED"
    session.flush()
    assert _run(session, order.id, T0 + dt.timedelta(days=59)) == ["fulfilled_without_supplier"]
    assert findings_for(session, [order.id], T0 + dt.timedelta(days=61), SETTINGS) == []


def test_an_operators_record_resolves_the_alert_it_answers_at_once(session: Session) -> None:
    """Linking, a dispute, a refund received move no supplier state: the record itself re-runs the checks,
    so the alert does not stay open (and notified) until beat's next sweep."""
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    session.flush()
    assert _run(session, order.id, T0 + dt.timedelta(hours=49)) == ["paid_without_supplier"]
    so = service.link_supplier_order(session, order, "8123456789012345", None, "operator", now=T0)
    assert _open(session, order.id) == []  # no _run: the link resolved it

    so.status, so.paid_at, so.amount_paid = st.AWAITING_SHIPMENT, T0, Decimal("80.00")  # sold for 50.00
    session.flush()
    assert _run(session, order.id) == ["amounts_disagree"]
    service.record_supplier_refund(session, so, Decimal("30.00"), "USD", "operator", NOW)
    assert _open(session, order.id) == []  # the overcharge came back: resolved by the record
