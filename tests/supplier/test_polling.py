"""The poller against the sandbox: lifecycle paths, adaptive scheduling, failures recorded and survived."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from integrations.aliexpress import status as st
from models import LedgerEntry, SupplierOrder, TimelineEvent
from tests.supplier.factories import ctx, make_order
from worker.db import nested_scope
from worker.supplier import events, polling, service


def _polls(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("dropsync_supplier_polls_total", {"supplier": "aliexpress", "outcome": outcome}) or 0
    )


def _kinds(session, so) -> list[str]:
    query = select(TimelineEvent.kind).where(TimelineEvent.supplier_order_id == so.id)
    return list(session.scalars(query.order_by(TimelineEvent.id)))


class World:
    """A linked supplier order and a poll() that reads it through the sandbox at the sandbox's time."""

    def __init__(self, session, sandbox, oid: str) -> None:
        self.session, self.sb, self.c = session, sandbox, ctx("US")
        order = make_order(session)
        self.so = service.link_supplier_order(session, order, oid, None, "operator", now=sandbox.clock.now())

    def poll(self) -> polling.PollOutcome:
        with self.sb.client() as client:
            return polling.poll_supplier_order(self.session, self.so, client, self.sb.clock.now(), ctx=self.c)


@pytest.fixture
def changes():
    seen: list[tuple[str, str]] = []

    def record(_session, _so, old, new) -> None:
        seen.append((old, new))

    events.on_supplier_change(record)
    yield seen
    events.remove_supplier_callback(record)


def test_delivered_lifecycle_records_every_change_and_stops_polling(session, aliexpress_sandbox, changes) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.create_order("25.00"))
    assert w.poll().outcome == "changed"
    assert w.so.status == st.AWAITING_PAYMENT
    assert w.poll().outcome == "ok"
    sb.pay(w.so.supplier_order_id)
    w.poll()
    assert w.so.status == st.RISK_CHECK
    assert w.so.amount_paid == Decimal("25.00")
    sb.clock.advance(hours=24)
    w.poll()
    assert w.so.status == st.AWAITING_SHIPMENT
    assert w.so.handling_deadline is not None
    sb.ship(w.so.supplier_order_id, "LP777")
    w.poll()
    assert w.so.status == st.SHIPPED
    assert w.so.tracking_numbers == ["LP777"]
    assert w.so.protection_ends_at == sb.clock.now() + dt.timedelta(days=60)
    sb.confirm_receipt(w.so.supplier_order_id)
    w.poll()
    assert w.so.status == st.CLOSED_COMPLETED
    assert w.so.next_poll_at is None
    assert changes == [
        (st.UNKNOWN, st.AWAITING_PAYMENT),
        (st.AWAITING_PAYMENT, st.RISK_CHECK),
        (st.RISK_CHECK, st.AWAITING_SHIPMENT),
        (st.AWAITING_SHIPMENT, st.SHIPPED),
        (st.SHIPPED, st.CLOSED_COMPLETED),
    ]
    payments = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "supplier_payment")).all()
    assert [(p.amount, p.source_ref) for p in payments] == [
        (Decimal("25.00"), f"aliexpress:payment:{w.so.supplier_order_id}")
    ]
    kinds = _kinds(session, w.so)
    assert kinds.count("supplier.paid") == 1
    assert "supplier.tracking_added" in kinds
    assert "supplier.protection_started" in kinds


def test_silent_seller_auto_cancels_and_the_refund_is_expected(session, aliexpress_sandbox, changes) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order("30.00"))
    w.poll()
    service.record_cancellation_requested(session, w.so, "operator:ann", sb.clock.now(), ctx=w.c)
    w.poll()  # the website request is not on the gateway yet: the operator's record stands
    assert w.so.status == st.CANCELLATION_REQUESTED
    sb.request_cancellation(w.so.supplier_order_id)
    w.poll()
    assert w.so.raw_status == "IN_CANCEL"
    assert w.so.next_poll_at - sb.clock.now() <= dt.timedelta(minutes=30)
    sb.clock.advance(hours=48)
    w.poll()
    assert w.so.status == st.CLOSED_CANCELLED
    assert w.so.raw_end_reason == "buyer_cancel_order"
    assert w.so.refund_due_at is not None
    assert "supplier.refund_expected" in _kinds(session, w.so)
    assert changes[-1] == (st.CANCELLATION_REQUESTED, st.CLOSED_CANCELLED)


def test_seller_refusal_seen_on_the_gateway(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    sb.request_cancellation(w.so.supplier_order_id)
    w.poll()
    assert w.so.status == st.CANCELLATION_REQUESTED
    sb.seller_refuses_cancellation(w.so.supplier_order_id)
    w.poll()
    assert w.so.status == st.AWAITING_SHIPMENT


def test_handling_time_expiry_is_a_cancellation(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order(handling_days=7))
    w.poll()
    sb.clock.advance(days=7)
    w.poll()
    assert w.so.status == st.CLOSED_CANCELLED
    assert w.so.raw_end_reason == "seller_send_goods_timeout"


def test_protection_extension_is_observed(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    sb.ship(w.so.supplier_order_id, "LP1")
    w.poll()
    first_end = w.so.protection_ends_at
    sb.clock.advance(days=50)
    w.poll()
    assert w.so.protection_ends_at == first_end
    sb.extend_protection(w.so.supplier_order_id, 15)
    w.poll()
    assert w.so.protection_extended_days == 15
    assert w.so.protection_ends_at == first_end + dt.timedelta(days=15)
    assert _kinds(session, w.so).count("supplier.protection_extended") == 1


def test_dispute_seen_then_resolved_with_refund(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    sb.ship(w.so.supplier_order_id, "LP1")
    w.poll()
    sb.open_dispute(w.so.supplier_order_id)
    w.poll()
    assert w.so.status == st.IN_DISPUTE
    sb.resolve_dispute(w.so.supplier_order_id, refund=True)
    w.poll()
    assert w.so.status == st.CLOSED_CANCELLED


def test_unknown_status_is_recorded_flagged_once_and_polling_goes_on(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    w.poll()
    sb.force_status(w.so.supplier_order_id, "WAIT_FOR_MARTIANS")
    before = _polls("unknown")
    assert w.poll().outcome == "unknown"
    assert w.poll().outcome == "unknown"
    assert _polls("unknown") - before == 2
    assert w.so.status == st.UNKNOWN
    assert w.so.status_unknown is True
    assert w.so.raw_status == "WAIT_FOR_MARTIANS"
    assert w.so.next_poll_at is not None
    assert _kinds(session, w.so).count("supplier.status_unknown") == 1
    sb.force_status(w.so.supplier_order_id, "WAIT_SELLER_SEND_GOODS")
    w.poll()
    assert w.so.status_unknown is False
    assert w.so.status == st.AWAITING_SHIPMENT


def test_malformed_response_is_recorded_and_the_next_order_still_polled(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    first, second = World(session, sb, sb.paid_order()), World(session, sb, sb.paid_order())
    now = sb.clock.now()
    first.so.next_poll_at = now - dt.timedelta(minutes=2)  # polled first
    second.so.next_poll_at = now - dt.timedelta(minutes=1)
    session.flush()
    sb.fail_next("malformed")
    before = _polls("malformed")
    with sb.client() as client:
        summary = polling.poll_due(lambda: nested_scope(session), client, sb.clock.now, 10, ctx=first.c)
    assert summary.outcomes == {"malformed": 1, "changed": 1}
    assert _polls("malformed") - before == 1
    assert first.so.poll_failures == 1
    assert "MalformedResponse" in first.so.last_poll_error
    assert first.so.next_poll_at == now + dt.timedelta(minutes=5)
    assert first.so.status == st.UNKNOWN  # nothing guessed from an unreadable response
    assert second.so.status == st.AWAITING_SHIPMENT
    assert _kinds(session, first.so).count("supplier.poll_failed") == 1


def test_repeated_identical_failures_are_recorded_once_and_backed_off(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, "8100000000000077")  # the gateway never heard of it
    outcomes = [w.poll().outcome for _ in range(3)]
    assert outcomes == ["error", "error", "error"]
    assert w.so.poll_failures == 3
    assert w.so.next_poll_at == sb.clock.now() + dt.timedelta(minutes=20)
    assert _kinds(session, w.so).count("supplier.poll_failed") == 1
    message = session.scalars(select(TimelineEvent.message).where(TimelineEvent.kind == "supplier.poll_failed")).one()
    assert "check the order number" in message


def test_a_crash_on_one_order_does_not_stop_the_others(session, aliexpress_sandbox, monkeypatch) -> None:
    sb = aliexpress_sandbox
    first, second = World(session, sb, sb.paid_order()), World(session, sb, sb.paid_order())
    real = polling.apply_observation

    def crash_on_first(session_, so, *args, **kwargs):
        if so.id == first.so.id:
            raise RuntimeError("bug")
        return real(session_, so, *args, **kwargs)

    monkeypatch.setattr(polling, "apply_observation", crash_on_first)
    with sb.client() as client:
        summary = polling.poll_due(lambda: nested_scope(session), client, sb.clock.now, 10, ctx=first.c)
    assert summary.outcomes == {"crashed": 1, "changed": 1}
    session.refresh(first.so)
    assert first.so.next_poll_at == sb.clock.now() + polling.LEASE  # comes back after the lease
    assert second.so.status == st.AWAITING_SHIPMENT


def test_claim_leases_so_an_overlapping_run_takes_nothing(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    now = sb.clock.now()
    assert polling.claim_due(session, now, 10) == [w.so.id]
    assert polling.claim_due(session, now, 10) == []
    assert polling.claim_due(session, now + polling.LEASE, 10) == [w.so.id]


@pytest.mark.parametrize(
    ("state", "deadline_in", "expected"),
    [
        (st.AWAITING_SHIPMENT, None, dt.timedelta(hours=3)),
        (st.AWAITING_SHIPMENT, dt.timedelta(days=5), dt.timedelta(hours=3)),
        (st.AWAITING_SHIPMENT, dt.timedelta(days=2), dt.timedelta(hours=2)),
        (st.AWAITING_SHIPMENT, dt.timedelta(hours=20), dt.timedelta(minutes=30)),
        (st.AWAITING_SHIPMENT, dt.timedelta(hours=2), dt.timedelta(minutes=10)),
        (st.AWAITING_SHIPMENT, -dt.timedelta(hours=2), dt.timedelta(minutes=10)),
        (st.SHIPPED, None, dt.timedelta(hours=6)),
        (st.CANCELLATION_REQUESTED, None, dt.timedelta(minutes=30)),
    ],
)
def test_polls_sooner_when_a_deadline_is_near(state: str, deadline_in, expected) -> None:
    now = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    so = SupplierOrder(status=state, tracking_numbers=[])
    so.handling_deadline = now + deadline_in if deadline_in is not None else None
    assert polling.next_poll_time(so, now) == now + expected


@pytest.mark.parametrize("state", [st.CLOSED_CANCELLED, st.CLOSED_COMPLETED])
def test_closed_orders_are_never_polled(state: str) -> None:
    assert polling.next_poll_time(SupplierOrder(status=state), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)) is None


def test_operator_dispute_stands_until_resolved_here_or_seen_on_the_gateway(session, aliexpress_sandbox) -> None:
    from worker.supplier import disputes

    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    sb.ship(w.so.supplier_order_id, "LP1")
    w.poll()
    dispute = disputes.open_dispute(session, w.so, "not_received", "operator", sb.clock.now())
    w.poll()  # AliExpress does not show IN_ISSUE yet
    assert w.so.status == st.IN_DISPUTE
    disputes.resolve_dispute(session, dispute, "withdrawn", "operator", sb.clock.now())
    w.poll()
    assert w.so.status == st.SHIPPED


def test_a_spent_time_budget_stops_the_run_and_leaves_the_rest_leased(session, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order())
    with sb.client() as client:
        summary = polling.poll_due(lambda: nested_scope(session), client, sb.clock.now, 10, budget_seconds=-1)
    assert summary.polled == 0
    assert w.so.status == st.UNKNOWN
    assert w.so.next_poll_at == sb.clock.now() + polling.LEASE
