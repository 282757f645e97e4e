"""Supplier-order service functions: every fact about a supplier order enters the ledger through here.

Rules shared by every function:

- flush, never commit: the boundary (task, CLI command) owns the transaction;
- each records a timeline event naming the actor, and each state change calls ``events.notify``;
- deadlines are recomputed after every change (``worker.deadlines.rules.refresh_deadlines``);
- what AliExpress reports wins over what a person recorded (``worker.supplier.observe``).

``apply_observation`` (observe), ``transition`` and ``supplier_event`` (common) are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import LedgerEntry, LineItem, Order, SupplierOrder, SupplierOrderItem
from worker.deadlines.rules import refresh_deadlines
from worker.errors import RefusedError, UsageError
from worker.supplier import events
from worker.supplier.common import (
    SUPPLIER,
    SUPPLIER_ORDER_ID,
    Context,
    add_tracking,
    as_utc,
    find_supplier_order,
    resolve_context,
    supplier_event,
    transition,
)
from worker.supplier.observe import REFUSED_ADVICE, Observation, apply_observation

__all__ = [
    "SUPPLIER",
    "SUPPLIER_ORDER_ID",
    "Context",
    "Observation",
    "apply_observation",
    "as_utc",
    "find_supplier_order",
    "link_supplier_order",
    "record_cancellation_confirmed",
    "record_cancellation_requested",
    "record_protection_extension",
    "record_seller_refused",
    "record_shipped_claim",
    "record_supplier_refund",
    "supplier_event",
    "transition",
]

ItemSpec = Sequence[tuple[LineItem, int]]


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
            others = f" ({covered} already covered by other supplier orders)" if covered else ""
            raise RefusedError(
                f"{line.title!r}: {quantity} would cover {covered + quantity} of the {line.quantity} ordered{others}"
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
    # Replaced in place: a line linked before keeps its row (its quantity corrected), the others are added
    # and the rest deleted; new rows for the same lines would meet the old ones in the unique index.
    kept = {item.line_item_id: item for item in so.items}
    so.items = [_item(kept, line.id, qty) for line, qty in chosen]
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
    events.recorded(session, so)
    return so


def _item(kept: dict[int, SupplierOrderItem], line_item_id: int, quantity: int) -> SupplierOrderItem:
    item = kept.pop(line_item_id, None) or SupplierOrderItem(line_item_id=line_item_id)
    item.quantity = quantity
    return item


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
    refresh_deadlines(so, resolve_context(ctx).calendar, resolve_context(ctx).policy)
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
    refresh = resolve_context(ctx)
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
    so.cancel_refused_at = as_utc(at)
    transition(session, so, st.AWAITING_SHIPMENT, actor, "the seller refused the cancellation")
    supplier_event(
        session,
        so,
        "supplier.cancellation_refused",
        REFUSED_ADVICE,
        actor,
        {"at": as_utc(at).isoformat()},
    )
    c = resolve_context(ctx)
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
        add_tracking(session, so, numbers, actor)
        if so.status in st.NOT_SHIPPED_STATES or so.status == st.UNKNOWN:
            so.shipped_at = so.shipped_at or at
            transition(session, so, st.SHIPPED, actor, "the seller shipped, tracking given")
    else:
        supplier_event(
            session, so, "supplier.shipped_claimed", "the seller claims it shipped, without a tracking number", actor
        )
    c = resolve_context(ctx)
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
    events.recorded(session, so)
    return entry


def record_protection_extension(
    session: Session, supplier_order: SupplierOrder, days: int, actor: str, *, ctx: Context | None = None
) -> None:
    """The seller agreed to extend buyer protection by ``days`` (recorded by the operator)."""
    so = supplier_order
    if days <= 0:
        raise UsageError("an extension is a positive number of days")
    if so.protection_ends_at is None:
        c = resolve_context(ctx)
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
