"""Which deadlines a supplier order has, when they fall, and which ones need a person now.

Pure functions over a ``SupplierOrder`` and a ``DeadlinePolicy``: no queries, no I/O.

Deadlines (DOMAIN.md §1 and §3; durations are configuration, see ``.env.example``):

- **handling**: the seller ships within N business days of payment (default 7); after it AliExpress
  closes the order with a full refund. Watched while the order is paid and not shipped.
- **seller_silence**: a cancellation request left unanswered 48 h (calendar hours) is cancelled by
  AliExpress. Watched while the cancellation is pending.
- **tracking_due**: after a "we already shipped" claim, a tracking number within N business days
  (default 5); without one the claim is doubtful: open a dispute.
- **refund_due**: after a confirmed cancellation, the supplier's refund within N business days (3–15,
  default 15). Watched until the refunds recorded reach what was paid.
- **protection**: buyer protection ends (the gateway's countdown, or shipment + 60 days, plus
  recorded extensions). Watched while the parcel is in transit: ask for an extension or open a
  dispute a few days before the end.
- **dispute_window**: a customer was refunded after delivery for goods the supplier should pay back
  (set by the returns workflow, ``SupplierOrder.dispute_window_ends_at``): open the AliExpress dispute
  before the window after completion ends. Watched until a dispute is recorded for that refund: one still
  open, or one recorded since the refund asked for recovery (``SupplierOrder.recovery_asked_at``; a dispute settled
  before a later refund of the same order was about earlier goods and does not cover it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from integrations.aliexpress import status as st
from models import SupplierOrder
from worker.deadlines.calendar import BusinessCalendar

HANDLING = "handling"
SELLER_SILENCE = "seller_silence"
TRACKING_DUE = "tracking_due"
REFUND_DUE = "refund_due"
PROTECTION = "protection"
DISPUTE_WINDOW = "dispute_window"
KINDS = (HANDLING, SELLER_SILENCE, TRACKING_DUE, REFUND_DUE, PROTECTION, DISPUTE_WINDOW)

NEAR, PASSED = "near", "passed"


@dataclass(frozen=True)
class DeadlinePolicy:
    handling_days: int = 7
    tracking_due_days: int = 5
    refund_due_days: int = 15
    seller_silence: dt.timedelta = dt.timedelta(hours=48)
    protection_days: int = 60
    protection_warning: dt.timedelta = dt.timedelta(days=5)
    warning: dt.timedelta = dt.timedelta(hours=24)

    @classmethod
    def from_settings(cls) -> DeadlinePolicy:
        from worker.settings import get_settings

        s = get_settings()
        return cls(
            handling_days=s.supplier_handling_days,
            tracking_due_days=s.supplier_tracking_due_days,
            refund_due_days=s.supplier_refund_due_days,
            seller_silence=dt.timedelta(hours=s.seller_silence_hours),
            protection_days=s.buyer_protection_days,
            protection_warning=dt.timedelta(days=s.protection_warning_days),
            warning=dt.timedelta(hours=s.deadline_warning_hours),
        )


@dataclass(frozen=True)
class Finding:
    """One deadline that needs a person: near (within its warning window) or passed."""

    kind: str
    stage: str
    due_at: dt.datetime
    message: str
    severity: str


def refresh_deadlines(so: SupplierOrder, calendar: BusinessCalendar, policy: DeadlinePolicy) -> None:
    """Recompute every deadline field from the order's facts. Idempotent; call after any change."""
    so.handling_deadline = calendar.add_business_days(so.paid_at, policy.handling_days) if so.paid_at else None
    so.seller_silence_deadline = (
        so.cancel_requested_at + policy.seller_silence
        if so.cancel_requested_at and so.status == st.CANCELLATION_REQUESTED and not refused(so)
        else None
    )
    so.tracking_due_at = (
        calendar.add_business_days(so.shipped_claimed_at, policy.tracking_due_days)
        if so.shipped_claimed_at and not so.tracking_numbers
        else None
    )
    if so.status == st.CLOSED_CANCELLED and so.closed_at and so.refund_due_at is None:
        so.refund_due_at = calendar.add_business_days(so.closed_at, policy.refund_due_days)
    if so.protection_ends_at is None and so.shipped_at is not None:
        days = policy.protection_days + so.protection_extended_days
        so.protection_ends_at = so.shipped_at + dt.timedelta(days=days)


def refused(so: SupplierOrder) -> bool:
    """The seller refused the latest cancellation request (a new request starts a new one)."""
    return refused_between(so.cancel_requested_at, so.cancel_refused_at)


def refused_between(requested_at: dt.datetime | None, refused_at: dt.datetime | None) -> bool:
    return refused_at is not None and (requested_at is None or refused_at >= requested_at)


def has_open_dispute(so: SupplierOrder) -> bool:
    return so.status == st.IN_DISPUTE or any(d.state == "open" for d in so.disputes)


def disputed_since(so: SupplierOrder, since: dt.datetime | None) -> bool:
    """A dispute covers what was asked at ``since``: one still open, or one recorded (not the ``opened_at``
    the operator may backdate) at or after ``since``. ``since`` unknown: any dispute recorded counts."""
    return any(d.state == "open" or since is None or (d.created_at or d.opened_at) >= since for d in so.disputes)


def findings(so: SupplierOrder, now: dt.datetime, policy: DeadlinePolicy) -> list[Finding]:
    """The deadlines of ``so`` that are near or passed at ``now``, each once, most urgent first."""
    candidates = [
        _handling(so),
        _seller_silence(so),
        _tracking_due(so),
        _refund_due(so),
        _protection(so),
        _dispute_window(so),
    ]
    out: list[Finding] = []
    for candidate in candidates:
        if candidate is None:
            continue
        kind, due, warning, near_text, passed_text = candidate
        warn = policy.protection_warning if kind == PROTECTION else policy.warning
        if kind == DISPUTE_WINDOW:
            warn = due - dt.datetime.min.replace(
                tzinfo=dt.UTC
            )  # needs a person from the refund on, not only near the end
        if now >= due:
            out.append(Finding(kind, PASSED, due, passed_text, "critical"))
        elif now >= due - warn:
            out.append(Finding(kind, NEAR, due, near_text.format(left=_left(due - now)), warning))
    return sorted(out, key=lambda f: f.due_at)


_Candidate = tuple[str, dt.datetime, str, str, str] | None


def _handling(so: SupplierOrder) -> _Candidate:
    if so.handling_deadline is None or so.status not in (st.RISK_CHECK, st.AWAITING_SHIPMENT):
        return None
    return (
        HANDLING,
        so.handling_deadline,
        "warning",
        "the seller must ship within {left}; if it does not, AliExpress closes the order with a full refund",
        "the handling time passed without shipment: AliExpress should close the order with a full refund; "
        "check it, and open a dispute if it ships now",
    )


def _seller_silence(so: SupplierOrder) -> _Candidate:
    if so.seller_silence_deadline is None or so.status != st.CANCELLATION_REQUESTED or refused(so):
        return None
    return (
        SELLER_SILENCE,
        so.seller_silence_deadline,
        "info",
        "the seller has {left} left to answer the cancellation request before it cancels by itself",
        "the seller did not answer the cancellation request within 48 h: AliExpress should have closed the "
        "order by itself. Do not refund the customer yet: poll it (dropsync supplier poll ORDER); if AliExpress "
        "still shows it awaiting shipment, the seller refused: open a dispute or wait for tracking",
    )


def _tracking_due(so: SupplierOrder) -> _Candidate:
    if so.tracking_due_at is None or so.tracking_numbers or so.status in st.CLOSED_STATES or has_open_dispute(so):
        return None  # a dispute is the advice's own outcome: asking for it again would be stale
    return (
        TRACKING_DUE,
        so.tracking_due_at,
        "warning",
        "the seller claimed it shipped; a tracking number is due within {left}",
        "no tracking number after the seller's 'shipped' claim: the claim is doubtful, open a dispute",
    )


def _refund_due(so: SupplierOrder) -> _Candidate:
    if so.refund_due_at is None or so.status != st.CLOSED_CANCELLED:
        return None
    if so.amount_paid > 0 and so.amount_refunded >= so.amount_paid:
        return None
    return (
        REFUND_DUE,
        so.refund_due_at,
        "warning",
        "the supplier's refund is due within {left}",
        "the supplier's refund is overdue: check the AliExpress payment record, then contact the seller or "
        "open a dispute",
    )


def _protection(so: SupplierOrder) -> _Candidate:
    if so.protection_ends_at is None or so.status not in (st.SHIPPED, st.PARTLY_SHIPPED):
        return None
    return (
        PROTECTION,
        so.protection_ends_at,
        "critical",
        "buyer protection ends in {left} and the parcel has not arrived: ask the seller to extend it or "
        "open a dispute now",
        "buyer protection has ended and the parcel never arrived: open a dispute at once if AliExpress still allows it",
    )


def _dispute_window(so: SupplierOrder) -> _Candidate:
    if so.dispute_window_ends_at is None or so.status == st.CLOSED_CANCELLED:
        return None
    if disputed_since(so, so.recovery_asked_at):
        return None
    return (
        DISPUTE_WINDOW,
        so.dispute_window_ends_at,
        "critical",
        "the customer was refunded for goods this seller should pay back: open the AliExpress dispute within "
        "{left} (photos, the customer's description)",
        "the dispute window has ended: the seller can no longer be made to refund what the customer was refunded",
    )


def _left(delta: dt.timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} h"
    return f"{max(int(delta.total_seconds() // 60), 1)} min"
