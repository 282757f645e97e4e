"""Disputes: reason, evidence checklist, outcome, and the refund it yields counted once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.aliexpress import status as st
from models import LedgerEntry
from tests.supplier.factories import T0, make_order
from worker.errors import NotFoundError, RefusedError, UsageError
from worker.supplier import disputes, service


def _shipped(session):
    so = service.link_supplier_order(session, make_order(session), "8123456789012345", None, "operator", now=T0)
    so.status, so.paid_at, so.amount_paid, so.shipped_at = st.SHIPPED, T0, Decimal("40.00"), T0
    session.flush()
    return so


def test_open_collect_evidence_and_resolve_with_refund(session) -> None:
    so = _shipped(session)
    dispute = disputes.open_dispute(session, so, "not_received", "operator:ann", T0, notes="tracking frozen")
    assert so.status == st.IN_DISPUTE
    assert dispute.seller_response_due_at == T0 + dt.timedelta(days=15)
    assert disputes.checklist(dispute) == {"tracking_snapshot": False, "seller_correspondence": False}
    disputes.add_evidence(session, dispute, "tracking_snapshot", {"status": "In transit", "since": "2026-03-03"}, "op")
    disputes.add_evidence(session, dispute, "seller_correspondence", "asked for an extension on 1 May", "op")
    assert disputes.checklist(dispute) == {"tracking_snapshot": True, "seller_correspondence": True}
    later = T0 + dt.timedelta(days=20)
    disputes.resolve_dispute(session, dispute, "partly_refunded", "operator:ann", later, refund_amount=Decimal("15"))
    assert (dispute.state, dispute.outcome, dispute.refund_amount) == ("resolved", "partly_refunded", Decimal("15"))
    refunds = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "supplier_refund")).all()
    assert [(r.amount, r.source_ref) for r in refunds] == [
        (Decimal("15.0000"), f"aliexpress:refund:8123456789012345:dispute-{dispute.id}")
    ]
    assert so.amount_refunded == Decimal("15")
    assert so.next_poll_at == later
    with pytest.raises(RefusedError, match="already resolved"):
        disputes.resolve_dispute(session, dispute, "refunded", "op", later, refund_amount=Decimal("15"))


def test_refusals_and_usage_errors(session) -> None:
    so = _shipped(session)
    with pytest.raises(UsageError, match="unknown dispute reason"):
        disputes.open_dispute(session, so, "bored", "op", T0)
    dispute = disputes.open_dispute(session, so, "invalid_tracking", "op", T0)
    with pytest.raises(RefusedError, match="already has an open dispute"):
        disputes.open_dispute(session, so, "late", "op", T0)
    with pytest.raises(UsageError, match="needs the refund amount"):
        disputes.resolve_dispute(session, dispute, "refunded", "op", T0)
    with pytest.raises(UsageError, match="yields no refund"):
        disputes.resolve_dispute(session, dispute, "rejected", "op", T0, refund_amount=Decimal("1"))
    with pytest.raises(UsageError, match="unknown evidence kind"):
        disputes.add_evidence(session, dispute, "vibes", "x", "op")
    with pytest.raises(RefusedError, match="more than"):
        disputes.resolve_dispute(session, dispute, "refunded", "op", T0, refund_amount=Decimal("40.01"))
    assert disputes.get_dispute(session, so).id == dispute.id
    disputes.resolve_dispute(session, dispute, "rejected", "op", T0)
    with pytest.raises(NotFoundError):
        disputes.get_dispute(session, so)


def test_closed_orders_cannot_be_disputed_here(session) -> None:
    so = _shipped(session)
    so.status = st.CLOSED_CANCELLED
    with pytest.raises(RefusedError, match="closed cancelled"):
        disputes.open_dispute(session, so, "damaged", "op", T0)


def test_a_completed_order_is_disputable_after_receipt_for_damage_within_the_window(session) -> None:
    so = _shipped(session)
    so.status, so.closed_at = st.CLOSED_COMPLETED, T0
    with pytest.raises(RefusedError, match="after receipt AliExpress accepts only"):
        disputes.open_dispute(session, so, "not_received", "op", T0 + dt.timedelta(days=2))
    with pytest.raises(RefusedError, match="dispute window ended"):
        disputes.open_dispute(session, so, "damaged", "op", T0 + dt.timedelta(days=16))
    dispute = disputes.open_dispute(session, so, "damaged", "op", T0 + dt.timedelta(days=14))
    assert so.status == st.IN_DISPUTE
    # The seller wants the goods back first: not final; the refund is recorded when it comes.
    disputes.resolve_dispute(session, dispute, "return_to_seller", "op", T0 + dt.timedelta(days=15))
    assert (dispute.state, dispute.outcome) == ("open", "return_to_seller")
    disputes.resolve_dispute(
        session, dispute, "refunded", "op", T0 + dt.timedelta(days=25), refund_amount=Decimal("40")
    )
    assert (dispute.state, dispute.outcome, so.amount_refunded) == ("resolved", "refunded", Decimal("40"))
