"""From the ledger to the policy's plain inputs (the only module of ``worker.policy`` that reads the DB).

Line ids in the inputs are the ledger's ``LineItem.id`` as text. Reads only; never flushes or commits.
The cancellation workflow reuses :func:`policy_order`, :func:`supplier_snapshots` and
:func:`check_order`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import FulfillmentOrder, LineItem, Order, SupplierOrder, SupplierOrderItem
from worker.chargebacks.held import returned_by_banks
from worker.errors import UsageError
from worker.orders import find_line
from worker.policy.decision import Decision
from worker.policy.evaluate import evaluate
from worker.policy.inputs import (
    SHIPPED_STATES,
    Evidence,
    FulfillmentState,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)
from worker.policy.model import Policy

#: Fulfillment-order request statuses meaning a fulfillment service holds the order.
_ACCEPTED = frozenset({"ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"})
_GID_LINE = "gid://shopify/LineItem/"


def fulfillment_state(order: Order) -> FulfillmentState:
    """Shopify's fulfillment state as far as cancelling goes (display status, then fulfillment orders)."""
    display = (order.display_fulfillment_status or "").upper()
    if display == "FULFILLED":
        return FulfillmentState.FULFILLED
    if display in ("PARTIALLY_FULFILLED", "PARTIAL"):
        return FulfillmentState.PARTIALLY_FULFILLED
    statuses = {fo.request_status.upper() for fo in _live_fulfillment_orders(order.fulfillment_orders)}
    if statuses & _ACCEPTED:
        return FulfillmentState.ACCEPTED
    if "SUBMITTED" in statuses:
        return FulfillmentState.REQUESTED
    return FulfillmentState.UNFULFILLED


def _live_fulfillment_orders(fos: Iterable[FulfillmentOrder]) -> list[FulfillmentOrder]:
    return [fo for fo in fos if fo.status.upper() not in ("CANCELLED", "CLOSED")]


def _order_line(item: LineItem) -> OrderLine:
    # currentQuantity drops refunded and edited-out units; refundableQuantity drops refunded ones.
    left = max(min(item.current_quantity, item.refundable_quantity, item.quantity), 0)
    return OrderLine(
        line_id=str(item.id),
        quantity=item.quantity,
        unit_price=item.unit_price,
        discount=item.total_discount,
        tax=item.total_tax,
        refunded_quantity=item.quantity - left,
        sku=item.sku,
        title=item.title,
    )


def _total_paid(order: Order) -> Decimal:
    """What the customer actually paid: Shopify's received total, else the price minus what is owed."""
    if order.total_received > 0:
        return order.total_received
    return max(order.total_price - order.total_outstanding, Decimal(0))


def _taxes_included(order: Order) -> bool:
    raw = order.raw or {}
    return bool(raw.get("taxesIncluded", raw.get("taxes_included", False)))


def policy_order(
    order: Order, suppliers: Iterable[SupplierSnapshot] = (), charged_back: Decimal = Decimal(0)
) -> PolicyOrder:
    """The policy's view of ``order``; delivery is known from its supplier orders, ``charged_back`` from its
    chargebacks (``worker.chargebacks.held``)."""
    delivered = [s.delivered_at for s in suppliers if s.delivered_at is not None]
    return PolicyOrder(
        currency=order.currency,
        lines=tuple(_order_line(item) for item in order.line_items),
        shipping=order.total_shipping,
        total_paid=_total_paid(order),
        already_refunded=order.total_refunded,
        fulfillment=fulfillment_state(order),
        created_at=order.processed_at or order.shopify_created_at,
        delivered_at=max(delivered) if delivered else None,
        cancelled=order.cancelled_at is not None,
        taxes_included=_taxes_included(order),
        name=order.name,
        charged_back=charged_back,
    )


def _supplier_state(status: str) -> SupplierState:
    try:
        return SupplierState(status)
    except ValueError:
        return SupplierState.UNKNOWN  # a state this module does not know: a person looks


def _terms_name(supplier_order: SupplierOrder, policy: Policy | None) -> str:
    """The name the policy's ``[suppliers."…"]`` uses: the seller's name, else the platform."""
    candidates = [n for n in (supplier_order.seller_name, supplier_order.supplier) if n]
    if policy is not None:
        named = {n.casefold() for n in policy.named_suppliers()}
        for name in candidates:
            if name.casefold() in named:
                return name
    return candidates[0] if candidates else "supplier"


def supplier_snapshots(session: Session, order: Order, policy: Policy | None = None) -> tuple[SupplierSnapshot, ...]:
    """Every supplier order placed for ``order``, oldest first."""
    supplier_orders = session.scalars(
        select(SupplierOrder).where(SupplierOrder.order_id == order.id).order_by(SupplierOrder.id)
    ).all()
    snapshots = []
    for so in supplier_orders:
        items = session.execute(
            select(SupplierOrderItem.line_item_id, SupplierOrderItem.quantity).where(
                SupplierOrderItem.supplier_order_id == so.id
            )
        ).all()
        state = _supplier_state(so.status)
        delivered_at = so.delivered_at or (so.closed_at if state is SupplierState.CLOSED_COMPLETED else None)
        snapshots.append(
            SupplierSnapshot(
                supplier=_terms_name(so, policy),
                state=state,
                amount_paid=so.amount_paid,
                currency=so.currency,
                amount_refunded=so.amount_refunded,
                items={str(line_id): qty for line_id, qty in items},
                paid_at=so.paid_at,
                shipped_at=so.shipped_at,
                delivered_at=delivered_at,
                protection_ends_at=so.protection_ends_at,
                has_tracking=bool(so.tracking_numbers),
            )
        )
    return tuple(snapshots)


def parse_items(order: Order, spec: str | None) -> dict[str, int]:
    """``"LINE:QTY,LINE:QTY"`` → line id → quantity. LINE as ``worker.orders.find_line`` reads it (the
    position ``orders show`` prints, the GID or its tail, a SKU); ``QTY`` defaults to every remaining unit.
    Empty → whole order."""
    if not spec or not spec.strip():
        return {}
    items: dict[str, int] = {}
    for part in spec.split(","):
        head, colon, tail = part.strip().rpartition(":")
        # "gid://shopify/LineItem/1" has a colon of its own: only a colon after the GID starts a quantity.
        ref, qty_text = (head, tail) if colon and not tail.startswith("//") else (part.strip(), "")
        item = find_line(order, ref.strip())
        if qty_text.strip():
            if not qty_text.strip().isdigit():
                raise UsageError(f"--items: quantity must be a whole number, got {qty_text.strip()!r} in {part!r}")
            quantity = int(qty_text)
        else:
            quantity = _order_line(item).remaining_quantity
        items[str(item.id)] = items.get(str(item.id), 0) + quantity
    return items


def infer_kind(order: PolicyOrder, suppliers: Iterable[SupplierSnapshot]) -> RequestKind:
    """A return once anything shipped (supplier or Shopify), else a cancellation."""
    if order.fulfillment in (FulfillmentState.FULFILLED, FulfillmentState.PARTIALLY_FULFILLED):
        return RequestKind.RETURN
    if any(s.state in SHIPPED_STATES for s in suppliers):
        return RequestKind.RETURN
    return RequestKind.CANCEL


def check_order(
    session: Session,
    order: Order,
    *,
    policy: Policy,
    reason: Reason,
    now: dt.datetime,
    items: Mapping[str, int] | None = None,
    kind: RequestKind | None = None,
    evidence: Iterable[Evidence] = (),
) -> Decision:
    """Evaluate a request on a ledger order (``kind`` ``None``: inferred by :func:`infer_kind`)."""
    suppliers = supplier_snapshots(session, order, policy)
    facts = policy_order(order, suppliers, returned_by_banks(session, [order.id]).get(order.id, Decimal(0)))
    request = Request(
        kind=kind or infer_kind(facts, suppliers),
        reason=reason,
        items=dict(items or {}),
        evidence=frozenset(evidence),
    )
    return evaluate(policy, request, facts, suppliers, now)
