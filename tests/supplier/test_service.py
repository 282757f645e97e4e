"""Supplier-order service functions: linking, operator records, refunds, and the change hooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.aliexpress import status as st
from models import LedgerEntry, TimelineEvent
from tests.supplier.factories import T0, ctx, make_order
from worker.errors import RefusedError, UsageError
from worker.supplier import events, service

SO_ID = "8123456789012345"


def _kinds(session, so) -> list[str]:
    rows = session.scalars(
        select(TimelineEvent).where(TimelineEvent.supplier_order_id == so.id).order_by(TimelineEvent.id)
    )
    return [e.kind for e in rows]


@pytest.fixture
def changes():
    seen: list[tuple[str, str, str]] = []

    def record(_session, so, old, new) -> None:
        seen.append((so.supplier_order_id, old, new))

    events.on_supplier_change(record)
    yield seen
    events.remove_supplier_callback(record)


def test_link_covers_every_remaining_item_and_is_due_for_polling(session) -> None:
    order = make_order(session, lines=[("Case", 2), ("Cable", 1)])
    so = service.link_supplier_order(session, order, SO_ID, None, "operator:ann", now=T0)
    assert sorted((i.line_item_id, i.quantity) for i in so.items) == [(li.id, li.quantity) for li in order.line_items]
    assert so.status == st.UNKNOWN
    assert so.status_unknown is False
    assert so.next_poll_at == T0
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "supplier.linked")).one()
    assert event.actor == "operator:ann"
    assert event.order_id == order.id


def test_one_shopify_order_split_over_two_supplier_orders(session) -> None:
    order = make_order(session, lines=[("Case", 2), ("Cable", 1)])
    case, cable = order.line_items
    first = service.link_supplier_order(session, order, "8100000000000001", [(case, 1)], "operator")
    second = service.link_supplier_order(session, order, "8100000000000002", None, "operator")
    assert [(i.line_item_id, i.quantity) for i in first.items] == [(case.id, 1)]
    assert sorted((i.line_item_id, i.quantity) for i in second.items) == sorted([(case.id, 1), (cable.id, 1)])
    with pytest.raises(RefusedError, match=r"cover 3 of the 2 ordered \(2 already covered"):
        service.link_supplier_order(session, order, "8100000000000003", [(case, 1)], "operator")


def test_relinking_is_idempotent_and_another_order_is_refused(session) -> None:
    order = make_order(session)
    so = service.link_supplier_order(session, order, SO_ID, None, "operator")
    assert service.link_supplier_order(session, order, SO_ID, None, "operator") is so
    assert _kinds(session, so) == ["supplier.linked"]
    other = make_order(session)
    other.shop_id = order.shop_id
    session.flush()
    with pytest.raises(RefusedError, match="already linked"):
        service.link_supplier_order(session, other, SO_ID, None, "operator")


@pytest.mark.parametrize("bad", ["", "abc", "12", "8123-4567"])
def test_link_rejects_what_is_not_an_order_number(session, bad: str) -> None:
    with pytest.raises(UsageError):
        service.link_supplier_order(session, make_order(session), bad, None, "operator")


def test_link_rejects_foreign_or_zero_items(session) -> None:
    order, other = make_order(session), make_order(session)
    with pytest.raises(UsageError, match="does not belong"):
        service.link_supplier_order(session, order, SO_ID, [(other.line_items[0], 1)], "operator")
    with pytest.raises(UsageError, match="positive"):
        service.link_supplier_order(session, order, SO_ID, [(order.line_items[0], 0)], "operator")


def _awaiting_shipment(session):
    so = service.link_supplier_order(session, make_order(session), SO_ID, None, "operator", now=T0)
    so.status, so.paid_at, so.amount_paid = st.AWAITING_SHIPMENT, T0, Decimal("20.00")
    session.flush()
    return so


def test_cancellation_request_then_confirmation_expects_the_refund(session, changes) -> None:
    so = _awaiting_shipment(session)
    c = ctx("US")
    assert service.record_cancellation_requested(session, so, "operator:ann", T0, ctx=c)
    assert not service.record_cancellation_requested(session, so, "operator:ann", T0, ctx=c)
    assert so.seller_silence_deadline == T0 + dt.timedelta(hours=48)
    assert service.record_cancellation_confirmed(session, so, "operator:ann", T0 + dt.timedelta(hours=5), ctx=c)
    assert so.status == st.CLOSED_CANCELLED
    assert so.next_poll_at is None
    # Monday 2 March + 15 US business days (no holiday in between) = end of Monday 23 March.
    assert so.refund_due_at == dt.datetime(2026, 3, 24, tzinfo=dt.UTC)
    assert changes == [
        (SO_ID, st.AWAITING_SHIPMENT, st.CANCELLATION_REQUESTED),
        (SO_ID, st.CANCELLATION_REQUESTED, st.CLOSED_CANCELLED),
    ]
    assert "supplier.refund_expected" in _kinds(session, so)


def test_cancellation_refused_once_shipped(session) -> None:
    so = _awaiting_shipment(session)
    so.status = st.SHIPPED
    with pytest.raises(RefusedError, match="before the seller ships"):
        service.record_cancellation_requested(session, so, "operator", T0, ctx=ctx())


def test_seller_refusal_returns_to_awaiting_shipment(session, changes) -> None:
    so = _awaiting_shipment(session)
    service.record_cancellation_requested(session, so, "operator", T0, ctx=ctx())
    service.record_seller_refused(session, so, "operator", T0, ctx=ctx())
    assert so.status == st.AWAITING_SHIPMENT
    assert so.seller_silence_deadline is None
    assert changes[-1] == (SO_ID, st.CANCELLATION_REQUESTED, st.AWAITING_SHIPMENT)
    with pytest.raises(RefusedError):
        service.record_seller_refused(session, so, "operator", T0, ctx=ctx())


def test_a_hook_that_fails_aborts_the_change(session) -> None:
    so = _awaiting_shipment(session)

    def broken(*_args) -> None:
        raise RuntimeError("subscriber bug")

    events.on_supplier_change(broken)
    try:
        with pytest.raises(RuntimeError):
            service.record_cancellation_requested(session, so, "operator", T0, ctx=ctx())
    finally:
        events.remove_supplier_callback(broken)


def test_shipped_claim_without_tracking_sets_tracking_due(session) -> None:
    so = _awaiting_shipment(session)
    friday = dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)
    service.record_shipped_claim(session, so, [], "operator", friday, ctx=ctx("US"))
    assert so.status == st.AWAITING_SHIPMENT
    assert so.tracking_due_at == dt.datetime(2026, 3, 14, tzinfo=dt.UTC)  # 5 business days: end of Fri 13th
    service.record_shipped_claim(session, so, ["LP123"], "operator", friday, ctx=ctx("US"))
    assert so.status == st.SHIPPED
    assert so.tracking_numbers == ["LP123"]
    assert so.tracking_due_at is None
    assert so.protection_ends_at == friday + dt.timedelta(days=60)


def test_supplier_refund_is_a_ledger_entry_counted_once(session) -> None:
    so = _awaiting_shipment(session)
    entry = service.record_supplier_refund(session, so, Decimal("12.50"), "usd", "operator", T0, reference="R1")
    again = service.record_supplier_refund(session, so, Decimal("12.50"), "USD", "operator", T0, reference="R1")
    assert again.id == entry.id
    assert entry.kind == "supplier_refund"
    assert entry.source_ref == f"aliexpress:refund:{SO_ID}:R1"
    assert so.amount_refunded == Decimal("12.50")
    assert session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "supplier_refund")).all() == [entry]


def test_supplier_refund_refusals(session) -> None:
    so = _awaiting_shipment(session)
    with pytest.raises(RefusedError, match="not EUR"):
        service.record_supplier_refund(session, so, Decimal("1"), "EUR", "operator", T0)
    with pytest.raises(UsageError):
        service.record_supplier_refund(session, so, Decimal("0"), "USD", "operator", T0)
    with pytest.raises(UsageError):
        service.record_supplier_refund(session, so, 5.0, "USD", "operator", T0)  # type: ignore[arg-type]
    service.record_supplier_refund(session, so, Decimal("15"), "USD", "operator", T0, reference="a")
    with pytest.raises(RefusedError, match="more than"):
        service.record_supplier_refund(session, so, Decimal("5.01"), "USD", "operator", T0, reference="b")


def test_protection_extension_recorded_by_operator(session) -> None:
    so = _awaiting_shipment(session)
    with pytest.raises(RefusedError, match="not shipped"):
        service.record_protection_extension(session, so, 10, "operator", ctx=ctx())
    service.record_shipped_claim(session, so, ["LP1"], "operator", T0, ctx=ctx())
    service.record_protection_extension(session, so, 10, "operator", ctx=ctx())
    assert so.protection_extended_days == 10
    assert so.protection_ends_at == T0 + dt.timedelta(days=70)
