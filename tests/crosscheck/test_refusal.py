"""A seller's refusal, read from what AliExpress shows (or from the operator): never "confirm the cancellation"."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import TimelineEvent
from tests.supplier.test_polling import World
from worker.clock import now as shared_now
from worker.deadlines.rules import DeadlinePolicy, findings
from worker.settings import SettingsError, get_settings, load_settings
from worker.supplier import service


def _advice(so: object, at: dt.datetime) -> list[str]:
    return [f.message for f in findings(so, at, DeadlinePolicy())]  # type: ignore[arg-type]


def _refused_events(session: Session, so_id: int) -> int:
    query = select(TimelineEvent).where(
        TimelineEvent.supplier_order_id == so_id, TimelineEvent.kind == "supplier.cancellation_refused"
    )
    return len(session.scalars(query).all())


def test_in_cancel_then_awaiting_shipment_is_a_refusal(session: Session, aliexpress_sandbox: object) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order("10.00"))  # type: ignore[attr-defined]
    w.poll()
    oid = w.so.supplier_order_id
    sb.request_cancellation(oid)  # type: ignore[attr-defined]
    service.record_cancellation_requested(session, w.so, "operator:test", sb.clock.now(), ctx=w.c)  # type: ignore[attr-defined]
    w.poll()
    assert w.so.status == st.CANCELLATION_REQUESTED
    sb.seller_refuses_cancellation(oid)  # type: ignore[attr-defined]
    w.poll()
    assert w.so.status == st.AWAITING_SHIPMENT
    assert w.so.cancel_refused_at is not None
    assert w.so.seller_silence_deadline is None
    assert _refused_events(session, w.so.id) == 1
    later = sb.clock.now() + dt.timedelta(days=3)  # type: ignore[attr-defined]
    assert not any("confirm" in m for m in _advice(w.so, later))


def test_a_refusal_no_poll_saw_is_recognised_once_the_seller_s_48_h_are_over(
    session: Session, aliexpress_sandbox: object
) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order("10.00"))  # type: ignore[attr-defined]
    w.poll()
    oid = w.so.supplier_order_id
    sb.request_cancellation(oid)  # type: ignore[attr-defined]
    service.record_cancellation_requested(session, w.so, "operator:test", sb.clock.now(), ctx=w.c)  # type: ignore[attr-defined]
    sb.seller_refuses_cancellation(oid)  # type: ignore[attr-defined]  (before any poll saw IN_CANCEL)
    w.poll()
    assert w.so.status == st.CANCELLATION_REQUESTED  # within 48 h: the website action may not show yet
    sb.clock.advance(hours=49)  # type: ignore[attr-defined]
    passed = sb.clock.now()  # type: ignore[attr-defined]
    w.poll()
    assert w.so.status == st.AWAITING_SHIPMENT  # AliExpress would have cancelled an unanswered request
    assert w.so.cancel_refused_at == passed
    assert _refused_events(session, w.so.id) == 1
    assert [m for m in _advice(w.so, passed) if "48 h" in m or "confirm" in m] == []
    # Asking again starts a new request: the 48 h rule applies to it again.
    sb.request_cancellation(oid)  # type: ignore[attr-defined]
    service.record_cancellation_requested(session, w.so, "operator:test", passed + dt.timedelta(hours=1), ctx=w.c)
    assert w.so.seller_silence_deadline == passed + dt.timedelta(hours=49)


def test_the_operator_s_refusal_record_stops_the_silence_rule(session: Session, aliexpress_sandbox: object) -> None:
    sb = aliexpress_sandbox
    w = World(session, sb, sb.paid_order("10.00"))  # type: ignore[attr-defined]
    w.poll()
    at = sb.clock.now()  # type: ignore[attr-defined]
    service.record_cancellation_requested(session, w.so, "operator:test", at, ctx=w.c)
    service.record_seller_refused(session, w.so, "operator:test", at + dt.timedelta(hours=2), ctx=w.c)
    assert w.so.seller_silence_deadline is None
    advice = _advice(w.so, at + dt.timedelta(hours=50))
    assert not any("silent" in m or "confirm" in m for m in advice)


def test_the_shared_clock_reads_the_sandbox_s_time(aliexpress_sandbox: object, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = aliexpress_sandbox
    monkeypatch.setenv("DROPSYNC_SANDBOX_CLOCK_URL", f"{sb.base_url}/_sandbox/clock")  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        sb.clock.advance(days=7)  # type: ignore[attr-defined]
        assert abs(shared_now() - sb.clock.now()) < dt.timedelta(seconds=5)  # type: ignore[attr-defined]
        monkeypatch.setenv("DROPSYNC_ENV", "production")
        with pytest.raises(SettingsError, match="DROPSYNC_SANDBOX_CLOCK_URL is for development and tests only"):
            load_settings()
    finally:
        get_settings.cache_clear()
