"""Reading chargebacks for people and for the recommendation: one order's disputes, its supplier side,
its refunds, and what dropsync recommends."""

from __future__ import annotations

import datetime as dt
import shlex
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Chargeback, Order, SupplierOrder
from worker.chargebacks import evidence
from worker.chargebacks.recommend import REVIEW, Recommendation, SupplierSide, recommend
from worker.errors import NotFoundError, UsageError
from worker.money import round_money


def chargebacks_of(session: Session, order_id: int) -> list[Chargeback]:
    return list(session.scalars(select(Chargeback).where(Chargeback.order_id == order_id).order_by(Chargeback.id)))


def current(session: Session, order: Order, dispute: str | None = None) -> Chargeback:
    """The order's dispute a person acts on: ``dispute`` (its GID or numeric id) when given, else the one
    still needing a response, else the newest. Two or more needing a response (a chargeback and an
    inquiry, say) are never chosen between silently: the person names one."""
    rows = chargebacks_of(session, order.id)
    if not rows:
        raise NotFoundError(f"order {order.name} has no Shopify Payments dispute")
    if dispute is not None:
        wanted = dispute.strip().rsplit("/", 1)[-1]
        for row in rows:
            if row.number == wanted:
                return row
        raise NotFoundError(f"order {order.name} has no dispute {dispute!r} (its disputes: {_ids(rows)})")
    needing = [r for r in rows if r.status == "NEEDS_RESPONSE"]
    if len(needing) > 1:
        raise UsageError(
            f"order {order.name} has {len(needing)} disputes needing a response: name one with --dispute "
            f"({_ids(needing)})"
        )
    return (needing or rows)[-1]


def _ids(rows: list[Chargeback]) -> str:
    return ", ".join(f"{r.number} {r.dispute_type.lower()} {r.reason}" for r in rows)


def supplier_side(session: Session, row: Chargeback) -> list[SupplierSide]:
    """The order's supplier orders; delivered when the poller or the dispute's AliExpress tracking says so."""
    delivered = {p.supplier_order_id: p.delivered_at for p in evidence.parcels(session, row) if p.delivered_at}
    orders = session.scalars(
        select(SupplierOrder).where(SupplierOrder.order_id == row.order_id).order_by(SupplierOrder.id)
    )
    return [
        SupplierSide(
            so.supplier_order_id,
            so.status,
            bool(so.tracking_numbers),
            so.shipped_at,
            so.delivered_at or delivered.get(so.supplier_order_id),
            so.protection_ends_at,
            any(d.state == "open" for d in so.disputes),
        )
        for so in orders
    ]


def recommendation_for(session: Session, row: Chargeback, now: dt.datetime) -> Recommendation:
    if row.order_id is None and row.status == "NEEDS_RESPONSE":  # the dispute came before its order
        return Recommendation(REVIEW, f"its order {row.order_gid or '?'} is not mirrored yet: sync it, then decide",
                              ("dropsync sync reconcile",))  # fmt: skip
    if row.order_id is None:
        return recommend(reason=row.reason, status=row.status, amount=row.amount, refunded=Decimal(0), refund_ids=[],
                         suppliers=[], refusal_on_record=False, now=now)  # fmt: skip
    made = evidence.refunds(session, row.order_id)
    refunded = sum((Decimal(r["amount"]) for r in made), Decimal(0))
    refused = evidence.refusal(session, row.order_id) is not None
    suppliers = supplier_side(session, row)
    order = order_arg(session, row)
    assert order is not None  # row.order_id is set here
    return recommend(
        reason=row.reason, status=row.status, amount=row.amount, refunded=refunded, refund_ids=[r["id"] for r in made],
        suppliers=suppliers, refusal_on_record=refused, now=now, order=order, dispute=dispute_arg(session, row),
        evidence_due_by=row.evidence_due_by,
    )  # fmt: skip


def order_arg(session: Session, row: Chargeback) -> str | None:
    """The dispute's order as a command names it (``'#1001'``, quoted for a shell); None when not mirrored."""
    return shlex.quote(session.get_one(Order, row.order_id).name) if row.order_id is not None else None


def dispute_arg(session: Session, row: Chargeback) -> str | None:
    """The dispute's id for ``--dispute``, when its order has more than one dispute (``current`` would not
    choose between two needing a response); None when the order alone names it."""
    if row.order_id is None:
        return None
    several = (
        session.scalar(select(func.count()).select_from(Chargeback).where(Chargeback.order_id == row.order_id)) or 0
    )
    return row.number if several > 1 else None


def describe(row: Chargeback) -> dict[str, object]:
    """One chargeback as the CLI and ``--json`` show it."""
    return {
        "id": row.id, "dispute": row.dispute_gid, "order_id": row.order_id, "type": row.dispute_type,
        "reason": row.reason, "network_reason_code": row.network_reason_code, "status": row.status,
        "amount": str(round_money(row.amount, row.currency)), "fee": str(round_money(row.fee, row.currency)),
        "currency": row.currency,
        "initiated_at": row.initiated_at, "evidence_due_by": row.evidence_due_by,
        "evidence_sent_on": row.evidence_sent_on, "finalized_on": row.finalized_on,
        "evidence_submitted": row.evidence_submitted, "submitted_by": row.submitted_by,
        "shopify_fulfillments": row.shopify_fulfillments,
    }  # fmt: skip
