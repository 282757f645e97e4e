"""Deadline alerts fire once per deadline and stage, not on every run, and resolve when moot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from integrations.aliexpress import status as st
from models import Alert, TimelineEvent
from tests.supplier.factories import T0, ctx, make_order
from worker.deadlines.alerts import needing_attention, raise_due_alerts
from worker.deadlines.rules import DeadlinePolicy, refresh_deadlines
from worker.supplier import service

POLICY = DeadlinePolicy()


def _raised(kind: str) -> float:
    return REGISTRY.get_sample_value("dropsync_alerts_raised_total", {"kind": kind}) or 0


def _linked(session, status: str, **fields):
    so = service.link_supplier_order(session, make_order(session), "8123456789012345", None, "operator", now=T0)
    so.status = status
    for name, value in fields.items():
        setattr(so, name, value)
    session.flush()
    return so


def _open_alerts(session) -> list[tuple[str, bool]]:
    # Deadline alerts only: the cross-checks (hooked on supplier changes) raise their own on these orders.
    rows = session.scalars(select(Alert).where(~Alert.dedupe_key.startswith("crosscheck:")).order_by(Alert.id))
    return [(a.kind, a.resolved_at is None) for a in rows]


def test_handling_deadline_alerts_once_near_and_once_passed(session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT, paid_at=T0)
    c = ctx("US")
    refresh_deadlines(so, c.calendar, c.policy)
    due = so.handling_deadline
    assert due == dt.datetime(2026, 3, 12, tzinfo=dt.UTC)  # Mon 2 Mar + 7 business days = end of Wed 11 Mar
    assert raise_due_alerts(session, due - dt.timedelta(days=2), POLICY) == []
    before = _raised("handling_near")
    near = raise_due_alerts(session, due - dt.timedelta(hours=12), POLICY)
    assert [a.kind for a in near] == ["handling_near"]
    for hours in (11, 6, 1):  # the task runs every few minutes: nothing new
        assert raise_due_alerts(session, due - dt.timedelta(hours=hours), POLICY) == []
    assert _raised("handling_near") - before == 1
    passed = raise_due_alerts(session, due + dt.timedelta(minutes=1), POLICY)
    assert [a.kind for a in passed] == ["handling_passed"]
    assert raise_due_alerts(session, due + dt.timedelta(hours=5), POLICY) == []
    assert _open_alerts(session) == [("handling_near", False), ("handling_passed", True)]
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "alert.raised")).all()
    assert len(events) == 2
    assert events[0].order_id == so.order_id
    assert events[0].supplier_order_id == so.id


def test_a_passed_deadline_counts_once_in_the_overdue_gauge(session) -> None:
    """ "passed" resolves "near" (one deadline, one open alert), so /metrics counts it once, due or overdue."""
    from worker.observability.ledger import read_snapshot

    so = _linked(session, st.AWAITING_SHIPMENT, paid_at=T0)
    c = ctx("US")
    refresh_deadlines(so, c.calendar, c.policy)
    due = so.handling_deadline

    def gauges(now: dt.datetime) -> tuple[int, int]:
        snapshot = read_snapshot(session.connection(), now, exposure={})
        handling = ("handling_near", "handling_passed")
        return sum(snapshot.deadlines_due.get(k, 0) for k in handling), sum(
            snapshot.deadlines_overdue.get(k, 0) for k in handling
        )

    raise_due_alerts(session, due - dt.timedelta(hours=12), POLICY)
    assert gauges(due - dt.timedelta(hours=12)) == (1, 0)
    later = due + dt.timedelta(hours=1)
    raise_due_alerts(session, later, POLICY)
    assert gauges(later) == (1, 1)


def test_protection_alert_message_extension_rearms_and_delivery_resolves(session) -> None:
    ends = T0 + dt.timedelta(days=60)
    so = _linked(session, st.SHIPPED, shipped_at=T0, protection_ends_at=ends, tracking_numbers=["LP1"])
    (alert,) = raise_due_alerts(session, ends - dt.timedelta(days=2), POLICY)
    assert alert.kind == "protection_near"
    assert alert.severity == "critical"
    assert alert.message.startswith(
        "buyer protection ends in 2 days and the parcel has not arrived: ask the seller to extend it or open a dispute"
    )
    service.record_protection_extension(session, so, 15, "operator", ctx=ctx())
    assert raise_due_alerts(session, ends - dt.timedelta(days=2), POLICY) == []  # the new end is far away
    assert _open_alerts(session) == [("protection_near", False)]
    (again,) = raise_due_alerts(session, ends + dt.timedelta(days=14), POLICY)
    assert again.due_at == ends + dt.timedelta(days=15)
    so.status = st.DELIVERED
    session.flush()
    raise_due_alerts(session, ends + dt.timedelta(days=14), POLICY)
    assert _open_alerts(session) == [("protection_near", False), ("protection_near", False)]


def test_refund_overdue_until_the_refund_is_recorded(session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT, paid_at=T0, amount_paid=Decimal("20.00"))
    c = ctx("US")
    service.record_cancellation_confirmed(session, so, "operator", T0, ctx=c)
    late = so.refund_due_at + dt.timedelta(hours=1)
    assert [a.kind for a in raise_due_alerts(session, late, POLICY)] == ["refund_due_passed"]
    service.record_supplier_refund(session, so, Decimal("20.00"), "USD", "operator", late)
    assert raise_due_alerts(session, late, POLICY) == []
    assert _open_alerts(session) == [("refund_due_passed", False)]


def test_seller_silence_and_tracking_due(session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT, paid_at=T0)
    c = ctx("US")
    service.record_cancellation_requested(session, so, "operator", T0, ctx=c)
    kinds = [a.kind for a in raise_due_alerts(session, T0 + dt.timedelta(hours=48), POLICY)]
    assert kinds == ["seller_silence_passed"]
    service.record_seller_refused(session, so, "operator", T0, ctx=c)
    service.record_shipped_claim(session, so, [], "operator", T0, ctx=c)
    assert so.tracking_due_at is not None
    kinds = [a.kind for a in raise_due_alerts(session, so.tracking_due_at + dt.timedelta(minutes=1), POLICY)]
    assert "tracking_due_passed" in kinds


def test_unknown_status_alerts_once_per_raw_value(session) -> None:
    _linked(session, st.UNKNOWN, status_unknown=True, raw_status="WAIT_FOR_MARTIANS")
    assert [a.kind for a in raise_due_alerts(session, T0, POLICY)] == ["status_unknown"]
    assert raise_due_alerts(session, T0 + dt.timedelta(hours=1), POLICY) == []


def test_an_unknown_value_on_a_closed_order_alerts_too(session) -> None:
    """AliExpress finished the order with a logistics value dropsync does not know: it is never polled again,
    so the one alert is all a person gets."""
    _linked(session, st.CLOSED_COMPLETED, status_unknown=True, raw_status="FINISH",
            raw_logistics_status="MARTIAN_SCAN")  # fmt: skip
    (alert,) = raise_due_alerts(session, T0, POLICY)
    assert alert.kind == "status_unknown"
    assert "MARTIAN_SCAN" in alert.message


def test_persistent_poll_failures_alert(session) -> None:
    _linked(session, st.AWAITING_SHIPMENT, poll_failures=5, last_poll_error="GatewayError: HTTP 500")
    (alert,) = raise_due_alerts(session, T0, POLICY)
    assert alert.kind == "poll_failing"
    assert "HTTP 500" in alert.message


def test_needing_attention_lists_passed_before_near(session) -> None:
    first = _linked(session, st.SHIPPED, protection_ends_at=T0 + dt.timedelta(days=1), tracking_numbers=["LP"])
    second = service.link_supplier_order(session, make_order(session), "8100000000000002", None, "op", now=T0)
    second.status, second.seller_silence_deadline = st.CANCELLATION_REQUESTED, T0 - dt.timedelta(hours=1)
    session.flush()
    rows = needing_attention(session, T0, POLICY)
    assert [(r.finding.kind, r.finding.stage, r.supplier_order.id) for r in rows] == [
        ("seller_silence", "passed", second.id),
        ("protection", "near", first.id),
    ]
    assert rows[0].order_name is not None
    assert rows[0].order_name.startswith("#")


def test_alert_dedupe_key_is_unique_in_the_database(session) -> None:
    from sqlalchemy.exc import IntegrityError

    so = _linked(session, st.AWAITING_SHIPMENT)
    for _ in range(2):
        session.add(Alert(shop_id=so.shop_id, kind="x", message="m", dedupe_key="same", raised_at=T0))
    with pytest.raises(IntegrityError):
        session.flush()


def test_alerts_of_other_features_are_left_alone(session) -> None:
    so = _linked(session, st.AWAITING_SHIPMENT)
    foreign = Alert(shop_id=so.shop_id, kind="cancellation_stuck", message="m", dedupe_key="cancel:1", raised_at=T0)
    session.add(foreign)
    session.flush()
    raise_due_alerts(session, T0, POLICY)
    assert foreign.resolved_at is None
