"""Finding an order the way operators name it: ``#1001``, ``1001``, a numeric id or a GID."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Order
from worker.errors import NotFoundError, UsageError

ORDER_GID_PREFIX = "gid://shopify/Order/"


def resolve_order(session: Session, ref: str, shop_id: int | None = None) -> Order:
    """The order named by ``ref``; raises ``NotFoundError`` with the reference in the message."""
    ref = ref.strip()
    if not ref:
        raise UsageError("an order reference is required (#1001, a numeric id or a GID)")
    query = select(Order)
    if shop_id is not None:
        query = query.where(Order.shop_id == shop_id)
    if ref.startswith("gid://"):
        query = query.where(Order.shopify_gid == ref)
    elif ref.startswith("#"):
        query = query.where(Order.name == ref)
    elif ref.isdigit():
        # A bare number is a Shopify legacy id when one matches, else an order name without the '#'.
        by_id = session.scalars(query.where(Order.legacy_id == int(ref))).first()
        if by_id is not None:
            return by_id
        query = query.where(Order.name == f"#{ref}")
    else:
        query = query.where(Order.name == ref)
    order = session.scalars(query.order_by(Order.id)).first()
    if order is None:
        raise NotFoundError(f"unknown order {ref!r}")
    return order
