"""Applying what the AliExpress gateway reported to a supplier order (the poller's half of the service).

What AliExpress reports wins over what a person recorded, with one exception: a cancellation request
or a dispute the operator recorded stays until the gateway has shown it once (the website action and
the gateway's view are not simultaneous) — for a dispute, only while it is still open here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from integrations.aliexpress.models import RemoteOrder
from models import LedgerEntry, SupplierOrder
from worker.deadlines.rules import refresh_deadlines
from worker.supplier.common import Context, add_tracking, resolve_context, supplier_event, transition

#: What to do once the seller refused a cancellation (never "confirm the cancellation").
REFUSED_ADVICE = "the seller refused to cancel: open a dispute if it still has not shipped, or wait for tracking"

log = structlog.get_logger(__name__)

#: Local states the operator records before the gateway shows them, and the raw status that confirms each.
_STICKY = {st.CANCELLATION_REQUESTED: "IN_CANCEL", st.IN_DISPUTE: "IN_ISSUE"}


@dataclass
class Observation:
    """What one ``apply_observation`` found."""

    old_state: str
    new_state: str
    unknown: bool
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_state != self.new_state or bool(self.notes)


def _record_payment(session: Session, so: SupplierOrder, actor: str) -> None:
    """The store's payment to the supplier, once (unique ``source_ref``), when the gateway shows it paid."""
    if so.paid_at is None or so.amount_paid <= 0:
        return
    source_ref = f"aliexpress:payment:{so.supplier_order_id}"
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_ref == source_ref)) is not None:
        return
    session.add(
        LedgerEntry(
            shop_id=so.shop_id,
            order_id=so.order_id,
            supplier_order_id=so.id,
            kind="supplier_payment",
            amount=so.amount_paid,
            currency=so.currency,
            source_ref=source_ref,
            occurred_at=so.paid_at,
        )
    )
    session.flush()
    supplier_event(session, so, "supplier.paid", f"paid {so.amount_paid} {so.currency}", actor)


def apply_observation(
    session: Session,
    supplier_order: SupplierOrder,
    observed_remote_order: RemoteOrder,
    now: dt.datetime,
    *,
    ctx: Context | None = None,
    actor: str = "poller",
) -> Observation:
    """Bring ``supplier_order`` in line with what the gateway reported at ``now``.

    Records every observed change on the timeline (status, payment, tracking, protection countdown
    and its extensions). An unrecognised raw value is kept, flagged (``status_unknown``), recorded
    once per distinct raw value and logged; it never raises.
    """
    so, remote, c = supplier_order, observed_remote_order, resolve_context(ctx)
    reading = st.map_status(remote.order_status, remote.end_reason, remote.logistics_status)
    previous_raw = (so.raw_status, so.raw_end_reason, so.raw_logistics_status)
    raw = (remote.order_status, remote.end_reason, remote.logistics_status)
    obs = Observation(so.status, so.status, not reading.known)
    so.raw_status, so.raw_end_reason, so.raw_logistics_status = raw
    so.raw = remote.raw
    so.placed_at = so.placed_at or remote.created_at
    _observe_money(session, so, remote, actor, obs)
    if add_tracking(session, so, remote.tracking_numbers, actor):
        obs.notes.append("tracking")
    _observe_unknown(session, so, reading, raw, raw != previous_raw, actor)
    new_state = reading.state
    if _keep_operator_state(so, previous_raw[0], remote.order_status, new_state) and not _silence_over(so, c, now):
        new_state = so.status  # the website action is not visible on the gateway yet
    _stamp(so, new_state, now)
    refusal = obs.old_state == st.CANCELLATION_REQUESTED and new_state in (st.AWAITING_SHIPMENT, st.RISK_CHECK)
    if refusal:
        so.cancel_refused_at = now  # before the hooks run: they read it
    transition(session, so, new_state, actor, _why(reading, remote))
    if refusal:
        supplier_event(session, so, "supplier.cancellation_refused", REFUSED_ADVICE, actor, {"at": now.isoformat()})
    obs.new_state = so.status
    _observe_protection(session, so, remote, now, actor, obs)
    refresh_deadlines(so, c.calendar, c.policy)
    if obs.new_state == st.CLOSED_CANCELLED and obs.old_state != st.CLOSED_CANCELLED and so.refund_due_at:
        supplier_event(
            session,
            so,
            "supplier.refund_expected",
            f"supplier refund expected by {so.refund_due_at:%Y-%m-%d}",
            actor,
            {"refund_due_at": so.refund_due_at.isoformat()},
        )
    session.flush()
    return obs


def _keep_operator_state(so: SupplierOrder, previous_raw: str | None, observed_raw: str, observed: str) -> bool:
    """True while an operator-recorded request/dispute is not yet visible on the gateway."""
    confirming = _STICKY.get(so.status)
    if confirming is None or confirming in (previous_raw, observed_raw):
        return False
    if so.status == st.IN_DISPUTE and not any(d.state == "open" for d in so.disputes):
        return False  # resolved here: nothing left to wait for
    return _is_before(so.status, observed)


def _silence_over(so: SupplierOrder, c: Context, now: dt.datetime) -> bool:
    """A request recorded here, never seen as IN_CANCEL, and the seller's 48 h are over: AliExpress would
    have cancelled a request left unanswered, so an order still awaiting shipment was refused (or the
    request never reached the seller): either way it is not cancelled, and waiting longer misleads."""
    if so.status != st.CANCELLATION_REQUESTED or so.cancel_requested_at is None:
        return False
    return now >= so.cancel_requested_at + c.policy.seller_silence


def _is_before(local_state: str, observed: str) -> bool:
    if local_state == st.CANCELLATION_REQUESTED:
        return observed in (st.AWAITING_SHIPMENT, st.RISK_CHECK, st.AWAITING_PAYMENT)
    return observed in (st.SHIPPED, st.PARTLY_SHIPPED, st.AWAITING_SHIPMENT, st.DELIVERED)


def _why(reading: st.StatusReading, remote: RemoteOrder) -> str:
    parts = [remote.order_status] + [v for v in (remote.end_reason, remote.logistics_status) if v]
    return "AliExpress reports " + "/".join(parts)


def _stamp(so: SupplierOrder, state: str, now: dt.datetime) -> None:
    if state in (st.SHIPPED, st.PARTLY_SHIPPED, st.DELIVERED, st.CLOSED_COMPLETED):
        so.shipped_at = so.shipped_at or now
    if state in (st.DELIVERED, st.CLOSED_COMPLETED):
        so.delivered_at = so.delivered_at or now
    if state in st.CLOSED_STATES:
        so.closed_at = so.closed_at or now


def _observe_money(session: Session, so: SupplierOrder, remote: RemoteOrder, actor: str, obs: Observation) -> None:
    if remote.currency and so.amount_paid == 0:
        so.currency = remote.currency
    if remote.paid_at and so.paid_at is None:
        so.paid_at = remote.paid_at
        obs.notes.append("paid")
    if so.paid_at and remote.amount is not None and so.amount_paid == 0:
        so.amount_paid = remote.amount
    _record_payment(session, so, actor)


def _observe_unknown(
    session: Session, so: SupplierOrder, reading: st.StatusReading, raw: tuple[Any, ...], raw_changed: bool, actor: str
) -> None:
    if reading.known:
        so.status_unknown = False
        return
    if raw_changed or not so.status_unknown:
        log.warning("supplier.status_unknown", supplier_order_id=so.supplier_order_id, raw=raw, reason=reading.reason)
        supplier_event(
            session,
            so,
            "supplier.status_unknown",
            f"AliExpress reported a value dropsync does not know ({reading.reason}); kept as is, a person should look",
            actor,
            {"order_status": raw[0], "end_reason": raw[1], "logistics_status": raw[2]},
        )
    so.status_unknown = True


def _observe_protection(
    session: Session, so: SupplierOrder, remote: RemoteOrder, now: dt.datetime, actor: str, obs: Observation
) -> None:
    if remote.protection_left is None or so.status not in (st.SHIPPED, st.PARTLY_SHIPPED):
        return
    reported = (now + remote.protection_left).replace(second=0, microsecond=0)
    current = so.protection_ends_at
    if current is None:
        so.protection_ends_at = reported
        supplier_event(
            session, so, "supplier.protection_started", f"buyer protection ends {reported:%Y-%m-%d %H:%M} UTC", actor
        )
        obs.notes.append("protection")
    elif reported - current >= dt.timedelta(hours=23):
        # A jump of a day or more: the seller extended the countdown (clock drift is minutes, not days).
        days = round((reported - current) / dt.timedelta(days=1))
        so.protection_extended_days += days
        so.protection_ends_at = reported
        supplier_event(
            session,
            so,
            "supplier.protection_extended",
            f"buyer protection extended by {days} days, now ends {reported:%Y-%m-%d %H:%M} UTC",
            actor,
            {"days": days},
        )
        obs.notes.append("protection_extended")
