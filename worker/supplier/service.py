"""Supplier-order service functions: every fact about a supplier order enters the ledger through here.

Rules shared by every function:

- flush, never commit: the boundary (task, CLI command) owns the transaction;
- each records a timeline event naming the actor, and each state change calls ``events.notify``;
- deadlines are recomputed after every change (``worker.deadlines.rules.refresh_deadlines``);
- what AliExpress reports wins over what a person recorded, with one exception: a cancellation
  request or a dispute the operator recorded stays until the gateway has shown it once (the website
  action and the gateway's view are not simultaneous); after that the gateway's word is final.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from integrations.aliexpress.models import RemoteOrder
from models import LedgerEntry, LineItem, Order, SupplierOrder, SupplierOrderItem
from models.types import utcnow
from worker.deadlines.calendar import BusinessCalendar, default_calendar
from worker.deadlines.rules import DeadlinePolicy, refresh_deadlines
from worker.errors import RefusedError, UsageError
from worker.supplier import events
from worker.timeline import record_event

log = structlog.get_logger(__name__)

SUPPLIER = "aliexpress"
SUPPLIER_ORDER_ID = re.compile(r"^\d{6,24}$")
#: Local states the operator records before the gateway shows them, and the raw status that confirms each.
_STICKY = {st.CANCELLATION_REQUESTED: "IN_CANCEL", st.IN_DISPUTE: "IN_ISSUE"}

ItemSpec = Sequence[tuple[LineItem, int]]


@dataclass
class Context:
    """The calendar and policy deadlines are computed with (from settings unless a caller gives them)."""

    calendar: BusinessCalendar
    policy: DeadlinePolicy

    @classmethod
    def default(cls) -> Context:
        return cls(default_calendar(), DeadlinePolicy.from_settings())


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


# -- helpers ---------------------------------------------------------------------------------------


def supplier_event(
    session: Session, so: SupplierOrder, kind: str, message: str, actor: str, data: dict[str, Any] | None = None
) -> None:
    payload = {"supplier_order_id": so.supplier_order_id, **(data or {})}
    record_event(
        session,
        shop_id=so.shop_id,
        order_id=so.order_id,
        supplier_order_id=so.id,
        kind=kind,
        message=f"supplier order {so.supplier_order_id}: {message}",
        actor=actor,
        data=payload,
    )


def transition(session: Session, so: SupplierOrder, new_state: str, actor: str, why: str) -> bool:
    """Move ``so`` to ``new_state`` (timeline + hooks); False when it already is there."""
    old_state = so.status
    if old_state == new_state:
        return False
    so.status = new_state
    if new_state in st.CLOSED_STATES:
        so.next_poll_at = None  # closed orders are never polled again
    session.flush()
    supplier_event(
        session,
        so,
        "supplier.status_changed",
        f"{st.STATE_LABELS.get(old_state, old_state)} → {st.STATE_LABELS.get(new_state, new_state)} ({why})",
        actor,
        {"old_state": old_state, "new_state": new_state},
    )
    events.notify(session, so, old_state, new_state)
    return True


def as_utc(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise UsageError("times must carry a time zone")
    return at.astimezone(dt.UTC)


def _ctx(ctx: Context | None) -> Context:
    return ctx or Context.default()


# -- linking ---------------------------------------------------------------------------------------


def find_supplier_order(session: Session, shop_id: int, supplier_order_id: str) -> SupplierOrder | None:
    return session.scalar(
        select(SupplierOrder).where(
            SupplierOrder.shop_id == shop_id,
            SupplierOrder.supplier == SUPPLIER,
            SupplierOrder.supplier_order_id == supplier_order_id,
        )
    )


def _covered(session: Session, line: LineItem, excluding: int | None) -> int:
    query = select(func.coalesce(func.sum(SupplierOrderItem.quantity), 0)).where(
        SupplierOrderItem.line_item_id == line.id
    )
    if excluding is not None:
        query = query.where(SupplierOrderItem.supplier_order_id != excluding)
    return int(session.scalar(query) or 0)


def _remaining_items(session: Session, order: Order, excluding: int | None) -> list[tuple[LineItem, int]]:
    out = []
    for line in order.line_items:
        left = line.quantity - _covered(session, line, excluding)
        if line.requires_shipping and left > 0:
            out.append((line, left))
    return out


def _check_items(session: Session, order: Order, items: ItemSpec, excluding: int | None) -> None:
    seen: set[int] = set()
    for line, quantity in items:
        if line.order_id != order.id:
            raise UsageError(f"line item {line.id} does not belong to order {order.name}")
        if line.id in seen:
            raise UsageError(f"line item {line.title!r} is listed twice")
        seen.add(line.id)
        if quantity <= 0:
            raise UsageError(f"quantity for {line.title!r} must be positive")
        covered = _covered(session, line, excluding)
        if covered + quantity > line.quantity:
            raise RefusedError(
                f"{line.title!r}: {quantity} more would cover {covered + quantity} of {line.quantity} ordered "
                "(other supplier orders already cover some)"
            )


def link_supplier_order(
    session: Session,
    order: Order,
    supplier_order_id: str,
    items: ItemSpec | None,
    actor: str,
    *,
    now: dt.datetime | None = None,
) -> SupplierOrder:
    """Link AliExpress order ``supplier_order_id`` to ``order`` for ``items`` (line item, quantity).

    ``items=None`` covers every shippable line item's quantity not yet covered by another supplier
    order; ``[]`` links without items. Linking again to the same order is idempotent (items replaced
    when given); linking an id already linked to another order is refused. The new supplier order is
    due for its first poll at once.
    """
    supplier_order_id = supplier_order_id.strip()
    if not SUPPLIER_ORDER_ID.match(supplier_order_id):
        raise UsageError(f"not an AliExpress order number: {supplier_order_id!r} (digits only)")
    at = as_utc(now)
    so = find_supplier_order(session, order.shop_id, supplier_order_id)
    if so is not None and so.order_id not in (None, order.id):
        raise RefusedError(f"supplier order {supplier_order_id} is already linked to another order")
    chosen = list(items) if items is not None else _remaining_items(session, order, so.id if so else None)
    _check_items(session, order, chosen, so.id if so else None)
    created = so is None
    if so is None:
        so = SupplierOrder(
            shop_id=order.shop_id,
            order_id=order.id,
            supplier=SUPPLIER,
            supplier_order_id=supplier_order_id,
            status=st.UNKNOWN,  # not observed yet (status_unknown stays False: nothing unrecognised)
            currency=order.currency,
            next_poll_at=at,
        )
        session.add(so)
    elif items is None and so.items:
        return so  # already linked, nothing new asked
    so.order_id = order.id
    so.items = [SupplierOrderItem(line_item_id=line.id, quantity=qty) for line, qty in chosen]
    session.flush()
    summary = ", ".join(f"{qty} × {line.title}" for line, qty in chosen) or "no line items"
    supplier_event(
        session,
        so,
        "supplier.linked" if created else "supplier.relinked",
        f"linked to {order.name} for {summary}",
        actor,
        {"items": [{"line_item_id": line.id, "quantity": qty} for line, qty in chosen]},
    )
    return so


# -- operator records ------------------------------------------------------------------------------


def record_cancellation_requested(
    session: Session,
    supplier_order: SupplierOrder,
    actor: str,
    at: dt.datetime | None = None,
    *,
    ctx: Context | None = None,
) -> bool:
    """The store asked the seller to cancel (on the AliExpress website). Refused once the seller shipped.

    Starts the 48 h seller-silence clock. Returns False (and records nothing) if already requested.
    """
    so, at = supplier_order, as_utc(at)
    if so.status == st.CANCELLATION_REQUESTED:
        return False
    if so.status not in st.NOT_SHIPPED_STATES and so.status != st.UNKNOWN:
        raise RefusedError(
            f"supplier order {so.supplier_order_id} is {st.STATE_LABELS.get(so.status, so.status)}: "
            "a cancellation can only be asked before the seller ships"
        )
    so.cancel_requested_at = at
    so.next_poll_at = at  # confirm promptly what AliExpress shows
    transition(session, so, st.CANCELLATION_REQUESTED, actor, "cancellation requested from the seller")
    refresh_deadlines(so, _ctx(ctx).calendar, _ctx(ctx).policy)
    session.flush()
    return True


def record_cancellation_confirmed(
    session: Session,
    supplier_order: SupplierOrder,
    actor: str,
    at: dt.datetime | None = None,
    *,
    ctx: Context | None = None,
) -> bool:
    """The seller accepted (or AliExpress auto-cancelled): closed, cancelled; the refund is now expected.

    Sets ``closed_at`` and ``refund_due_at`` (N business days later). False if already recorded.
    """
    so, at = supplier_order, as_utc(at)
    if so.status == st.CLOSED_CANCELLED:
        return False
    if so.status not in st.NOT_SHIPPED_STATES and so.status not in (st.UNKNOWN, st.IN_DISPUTE):
        raise RefusedError(
            f"supplier order {so.supplier_order_id} is {st.STATE_LABELS.get(so.status, so.status)}: "
            "it cannot have been cancelled"
        )
    so.closed_at = at
    so.refund_due_at = None
    refresh = _ctx(ctx)
    transition(session, so, st.CLOSED_CANCELLED, actor, "cancellation confirmed: the money comes back")
    refresh_deadlines(so, refresh.calendar, refresh.policy)
    supplier_event(
        session,
        so,
        "supplier.refund_expected",
        f"supplier refund expected by {so.refund_due_at:%Y-%m-%d}",
        actor,
        {"refund_due_at": so.refund_due_at.isoformat() if so.refund_due_at else None},
    )
    return True


def record_seller_refused(
    session: Session,
    supplier_order: SupplierOrder,
    actor: str,
    at: dt.datetime | None = None,
    *,
    ctx: Context | None = None,
) -> bool:
    """The seller refused the cancellation but has not shipped: back to awaiting shipment.

    DOMAIN.md §1: open a dispute; if the parcel ships after the dispute date, AliExpress refunds.
    """
    so = supplier_order
    if so.status != st.CANCELLATION_REQUESTED:
        raise RefusedError(f"supplier order {so.supplier_order_id} has no pending cancellation request")
    transition(session, so, st.AWAITING_SHIPMENT, actor, "the seller refused the cancellation")
    supplier_event(
        session,
        so,
        "supplier.cancellation_refused",
        "seller refused to cancel; if it still has not shipped, open a dispute",
        actor,
        {"at": as_utc(at).isoformat()},
    )
    c = _ctx(ctx)
    refresh_deadlines(so, c.calendar, c.policy)
    return True


def record_shipped_claim(
    session: Session,
    supplier_order: SupplierOrder,
    tracking_numbers: Sequence[str],
    actor: str,
    at: dt.datetime | None = None,
    *,
    ctx: Context | None = None,
) -> None:
    """The seller says it already shipped. With tracking numbers: shipped. Without: tracking is due.

    A claim without a tracking number is doubtful (DOMAIN.md §1): ``tracking_due_at`` is set N business
    days ahead and an alert fires if none arrives.
    """
    so, at = supplier_order, as_utc(at)
    numbers = [t.strip() for t in tracking_numbers if t.strip()]
    so.shipped_claimed_at = so.shipped_claimed_at or at
    if numbers:
        _add_tracking(session, so, numbers, actor)
        if so.status in st.NOT_SHIPPED_STATES or so.status == st.UNKNOWN:
            so.shipped_at = so.shipped_at or at
            transition(session, so, st.SHIPPED, actor, "the seller shipped, tracking given")
    else:
        supplier_event(
            session, so, "supplier.shipped_claimed", "the seller claims it shipped, without a tracking number", actor
        )
    c = _ctx(ctx)
    refresh_deadlines(so, c.calendar, c.policy)
    if so.tracking_due_at:
        supplier_event(
            session,
            so,
            "supplier.tracking_due",
            f"tracking number due by {so.tracking_due_at:%Y-%m-%d %H:%M} UTC",
            actor,
        )
    session.flush()


def _add_tracking(session: Session, so: SupplierOrder, numbers: Sequence[str], actor: str) -> list[str]:
    new = [n for n in dict.fromkeys(numbers) if n not in so.tracking_numbers]
    if new:
        so.tracking_numbers = [*so.tracking_numbers, *new]  # reassigned: JSON columns track assignment only
        supplier_event(session, so, "supplier.tracking_added", f"tracking {', '.join(new)}", actor, {"tracking": new})
    return new


def record_supplier_refund(
    session: Session,
    supplier_order: SupplierOrder,
    amount: Decimal,
    currency: str,
    actor: str,
    at: dt.datetime | None = None,
    *,
    reference: str | None = None,
) -> LedgerEntry:
    """Money came back from the supplier: one ``supplier_refund`` ledger entry, never counted twice.

    ``reference`` (AliExpress's refund id, a dispute id…) makes the entry's unique ``source_ref``;
    without one the day and amount are used, so recording the same refund twice is a no-op that
    returns the first entry. Refused: a non-positive amount, another currency, or more in total than
    was paid to the supplier.
    """
    so, at = supplier_order, as_utc(at)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise UsageError(f"a refund amount must be a positive decimal, got {amount!r}")
    currency = currency.strip().upper()
    if currency != so.currency:
        raise RefusedError(f"supplier order {so.supplier_order_id} is in {so.currency}, not {currency}")
    ref = reference or f"{at:%Y%m%d}-{amount.normalize()}"
    source_ref = f"aliexpress:refund:{so.supplier_order_id}:{ref}"
    existing = session.scalar(select(LedgerEntry).where(LedgerEntry.source_ref == source_ref))
    if existing is not None:
        return existing
    if so.amount_paid > 0 and so.amount_refunded + amount > so.amount_paid:
        raise RefusedError(
            f"refunds would total {so.amount_refunded + amount} {currency}, more than the {so.amount_paid} paid"
        )
    entry = LedgerEntry(
        shop_id=so.shop_id,
        order_id=so.order_id,
        supplier_order_id=so.id,
        kind="supplier_refund",
        amount=amount,
        currency=currency,
        source_ref=source_ref,
        occurred_at=at,
        note=f"recorded by {actor}",
    )
    session.add(entry)
    so.amount_refunded = so.amount_refunded + amount
    session.flush()
    supplier_event(
        session,
        so,
        "supplier.refund_received",
        f"refund of {amount} {currency} received",
        actor,
        {"amount": str(amount), "currency": currency, "source_ref": source_ref},
    )
    return entry


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


# -- observations from the poller ------------------------------------------------------------------


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
    so, remote, c = supplier_order, observed_remote_order, _ctx(ctx)
    reading = st.map_status(remote.order_status, remote.end_reason, remote.logistics_status)
    previous_raw = (so.raw_status, so.raw_end_reason, so.raw_logistics_status)
    raw = (remote.order_status, remote.end_reason, remote.logistics_status)
    obs = Observation(so.status, so.status, not reading.known)
    so.raw_status, so.raw_end_reason, so.raw_logistics_status = raw
    so.raw = remote.raw
    so.placed_at = so.placed_at or remote.created_at
    _observe_money(session, so, remote, actor, obs)
    if _add_tracking(session, so, remote.tracking_numbers, actor):
        obs.notes.append("tracking")
    _observe_unknown(session, so, reading, raw, raw != previous_raw, actor)
    new_state = reading.state
    sticky = _STICKY.get(so.status)
    if sticky and previous_raw[0] != sticky and remote.order_status != sticky and _is_before(so.status, new_state):
        new_state = so.status  # the website action is not visible on the gateway yet
    _stamp(so, new_state, now)
    transition(session, so, new_state, actor, _why(reading, remote))
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


def _is_before(local_state: str, observed: str) -> bool:
    if local_state == st.CANCELLATION_REQUESTED:
        return observed in (st.AWAITING_SHIPMENT, st.RISK_CHECK, st.AWAITING_PAYMENT)
    return observed in (st.SHIPPED, st.PARTLY_SHIPPED, st.AWAITING_SHIPMENT, st.DELIVERED)


def _why(reading: st.StatusReading, remote: RemoteOrder) -> str:
    parts = [remote.order_status] + [v for v in (remote.end_reason, remote.logistics_status) if v]
    return "AliExpress reports " + "/".join(parts)


def _stamp(so: SupplierOrder, state: str, now: dt.datetime) -> None:
    if state in (st.SHIPPED, st.PARTLY_SHIPPED, st.DELIVERED, st.CLOSED_COMPLETED) and so.tracking_numbers:
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


def record_protection_extension(
    session: Session, supplier_order: SupplierOrder, days: int, actor: str, *, ctx: Context | None = None
) -> None:
    """The seller agreed to extend buyer protection by ``days`` (recorded by the operator)."""
    so = supplier_order
    if days <= 0:
        raise UsageError("an extension is a positive number of days")
    if so.protection_ends_at is None:
        c = _ctx(ctx)
        refresh_deadlines(so, c.calendar, c.policy)
    if so.protection_ends_at is None:
        raise RefusedError(f"supplier order {so.supplier_order_id} has no protection countdown yet (not shipped)")
    so.protection_extended_days += days
    so.protection_ends_at = so.protection_ends_at + dt.timedelta(days=days)
    supplier_event(
        session,
        so,
        "supplier.protection_extended",
        f"buyer protection extended by {days} days, now ends {so.protection_ends_at:%Y-%m-%d %H:%M} UTC",
        actor,
        {"days": days},
    )
    session.flush()
