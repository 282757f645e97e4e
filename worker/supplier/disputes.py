"""Disputes opened on AliExpress (on the website; there is no API for them), recorded here.

A dispute has a reason (DOMAIN.md §1's list), the date it was opened, the seller's 15-day answer
window, an evidence checklist (tracking snapshots, seller correspondence — what AliExpress asks for),
and an outcome with the refund it yielded (a ``supplier_refund`` ledger entry, via
``record_supplier_refund`` with the dispute as reference, so it is never counted twice).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Dispute, SupplierOrder
from worker.errors import NotFoundError, RefusedError, UsageError
from worker.supplier import events
from worker.supplier.service import as_utc, record_supplier_refund, supplier_event, transition

REASONS = {
    "not_received": "parcel not received",
    "late": "delivery later than promised",
    "invalid_tracking": "invalid tracking number",
    "returned_to_seller": "returned to the seller",
    "customs": "held by customs",
    "seized_counterfeit": "seized as counterfeit",
    "delivered_not_received": "marked delivered but not received",
    "not_as_described": "item not as described",
    "damaged": "damaged in transit",
    "wrong_item": "wrong item",
    "not_shipped": "seller refused to cancel and has not shipped",
}
#: Reasons AliExpress still accepts after receipt (the order completed), within the dispute window.
AFTER_RECEIPT_REASONS = frozenset({"not_as_described", "damaged", "wrong_item"})
#: ``return_to_seller`` is not final: the seller refunds once the goods reach it (the dispute stays open).
OUTCOMES = ("refunded", "partly_refunded", "rejected", "withdrawn", "return_to_seller")
FINAL_OUTCOMES = ("refunded", "partly_refunded", "rejected", "withdrawn")
EVIDENCE_KINDS = ("tracking_snapshot", "seller_correspondence", "photo", "other")
SELLER_ANSWER = dt.timedelta(days=15)
#: What AliExpress asks for; each item is ticked when evidence of that kind is added.
CHECKLIST = ("tracking_snapshot", "seller_correspondence")


def open_dispute(
    session: Session,
    supplier_order: SupplierOrder,
    reason: str,
    actor: str,
    at: dt.datetime | None = None,
    *,
    notes: str | None = None,
) -> Dispute:
    """Record a dispute opened on AliExpress. One open dispute per supplier order."""
    so, at = supplier_order, as_utc(at)
    if reason not in REASONS:
        raise UsageError(f"unknown dispute reason {reason!r} (one of: {', '.join(REASONS)})")
    _check_disputable(so, reason, at)
    if any(d.state == "open" for d in so.disputes):
        raise RefusedError(f"supplier order {so.supplier_order_id} already has an open dispute")
    dispute = Dispute(
        supplier_order_id=so.id,
        reason=reason,
        state="open",
        opened_at=at,
        seller_response_due_at=at + SELLER_ANSWER,
        evidence=[],
        currency=so.currency,
        notes=notes,
        opened_by=actor,
    )
    so.disputes.append(dispute)
    so.next_poll_at = at
    session.flush()
    supplier_event(
        session,
        so,
        "supplier.dispute_opened",
        f"dispute opened: {REASONS[reason]}; seller answers by {dispute.seller_response_due_at:%Y-%m-%d}",
        actor,
        {"dispute_id": dispute.id, "reason": reason},
    )
    if not transition(session, so, st.IN_DISPUTE, actor, "dispute opened"):
        events.recorded(session, so)  # already in dispute on AliExpress: no state change ran the checks
    return dispute


def completed_window_end(so: SupplierOrder) -> dt.datetime | None:
    """When a completed order stops being disputable (completion + the window), ``None`` if not completed."""
    from worker.returns.recovery import window_days

    if so.status != st.CLOSED_COMPLETED or so.closed_at is None:
        return None
    return so.closed_at + dt.timedelta(days=window_days())


def _check_disputable(so: SupplierOrder, reason: str, at: dt.datetime) -> None:
    """Closed-cancelled: never (the money came back). Completed: for goods that arrived damaged, not as
    described or wrong, until the window after completion ends (AliExpress, DOMAIN.md §3)."""
    if so.status == st.CLOSED_CANCELLED:
        raise RefusedError(f"supplier order {so.supplier_order_id} is closed cancelled: there is nothing to dispute")
    if so.status != st.CLOSED_COMPLETED:
        return
    if reason not in AFTER_RECEIPT_REASONS:
        allowed = ", ".join(sorted(AFTER_RECEIPT_REASONS))
        raise RefusedError(
            f"supplier order {so.supplier_order_id} is completed: after receipt AliExpress accepts only {allowed}"
        )
    ends = completed_window_end(so)
    if ends is not None and at > ends:
        raise RefusedError(
            f"supplier order {so.supplier_order_id} completed on {so.closed_at:%Y-%m-%d}: the dispute window "
            f"ended on {ends:%Y-%m-%d}"
        )


def add_evidence(
    session: Session,
    dispute: Dispute,
    kind: str,
    detail: str | dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
) -> None:
    """Attach one piece of evidence (a note, a tracking snapshot as data, a file reference)."""
    if kind not in EVIDENCE_KINDS:
        raise UsageError(f"unknown evidence kind {kind!r} (one of: {', '.join(EVIDENCE_KINDS)})")
    item = {"kind": kind, "detail": detail, "added_at": as_utc(at).isoformat(), "by": actor}
    dispute.evidence = [*dispute.evidence, item]  # reassigned: JSON columns track assignment only
    session.flush()
    supplier_event(
        session,
        dispute.supplier_order,
        "supplier.dispute_evidence",
        f"dispute evidence added: {kind}",
        actor,
        {"dispute_id": dispute.id, "kind": kind},
    )


def checklist(dispute: Dispute) -> dict[str, bool]:
    kinds = {item.get("kind") for item in dispute.evidence}
    return {item: item in kinds for item in CHECKLIST}


def resolve_dispute(
    session: Session,
    dispute: Dispute,
    outcome: str,
    actor: str,
    at: dt.datetime | None = None,
    *,
    refund_amount: Decimal = Decimal(0),
    notes: str | None = None,
) -> Dispute:
    """Record the outcome. A refund (> 0) becomes a ``supplier_refund`` ledger entry, exactly once.

    The supplier order's state is then AliExpress's to tell: it is due for a poll at once.
    """
    at = as_utc(at)
    if outcome not in OUTCOMES:
        raise UsageError(f"unknown outcome {outcome!r} (one of: {', '.join(OUTCOMES)})")
    if dispute.state != "open":
        raise RefusedError(f"dispute {dispute.id} is already resolved ({dispute.outcome})")
    if outcome in ("refunded", "partly_refunded") and refund_amount <= 0:
        raise UsageError(f"outcome {outcome} needs the refund amount (--refund AMOUNT)")
    if outcome in ("rejected", "withdrawn", "return_to_seller") and refund_amount != 0:
        raise UsageError(f"outcome {outcome} yields no refund")
    so = dispute.supplier_order
    if outcome == "return_to_seller":
        return _return_to_seller(session, dispute, actor, at, notes)
    if refund_amount > 0:
        record_supplier_refund(session, so, refund_amount, so.currency, actor, at, reference=f"dispute-{dispute.id}")
    dispute.state, dispute.outcome, dispute.resolved_at = "resolved", outcome, at
    dispute.refund_amount = refund_amount
    if notes:
        dispute.notes = f"{dispute.notes}\n{notes}" if dispute.notes else notes
    so.next_poll_at = at
    session.flush()
    supplier_event(
        session,
        so,
        "supplier.dispute_resolved",
        f"dispute resolved: {outcome}" + (f", {refund_amount} {so.currency} refunded" if refund_amount else ""),
        actor,
        {"dispute_id": dispute.id, "outcome": outcome, "refund_amount": str(refund_amount)},
    )
    events.recorded(session, so)
    return dispute


def _return_to_seller(session: Session, dispute: Dispute, actor: str, at: dt.datetime, notes: str | None) -> Dispute:
    """The seller (or AliExpress) wants the goods back before refunding: the dispute stays open, the
    expected recovery stays on the exposure report, and the refund is recorded when it comes."""
    dispute.outcome = "return_to_seller"
    if notes:
        dispute.notes = f"{dispute.notes}\n{notes}" if dispute.notes else notes
    session.flush()
    supplier_event(
        session, dispute.supplier_order, "supplier.dispute_return_required",
        "dispute: the seller refunds once the goods are sent back to it (the store pays that shipment)", actor,
        {"dispute_id": dispute.id, "outcome": "return_to_seller", "at": at.isoformat()},
    )  # fmt: skip
    return dispute


def get_dispute(session: Session, supplier_order: SupplierOrder, dispute_id: int | None = None) -> Dispute:
    """The given dispute of ``supplier_order``, or its open one."""
    query = select(Dispute).where(Dispute.supplier_order_id == supplier_order.id)
    query = query.where(Dispute.id == dispute_id) if dispute_id else query.where(Dispute.state == "open")
    dispute = session.scalar(query.order_by(Dispute.id.desc()))
    if dispute is None:
        raise NotFoundError(
            f"no {'such' if dispute_id else 'open'} dispute on supplier order {supplier_order.supplier_order_id}"
        )
    return dispute
