"""Money at risk on chargebacks: the disputed amount plus the chargeback fee, per order, until the dispute
is won. A chargeback still open (NEEDS_RESPONSE, UNDER_REVIEW) counts, because the bank already took the
money back; a lost or accepted one stays counted (the loss is real); a won one (or one PREVENTED before it
became a chargeback) counts 0. An inquiry moves no money until it becomes a chargeback."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Chargeback

CLEARED = ("WON", "PREVENTED")


def _at_risk_filter() -> list[object]:
    return [
        Chargeback.dispute_type == "CHARGEBACK",
        Chargeback.status.not_in(CLEARED),
        Chargeback.order_id.is_not(None),
    ]


def at_risk(session: Session) -> dict[int, Decimal]:
    """Order id → disputed amount + fee of its chargebacks not won."""
    rows = session.execute(
        select(Chargeback.order_id, func.sum(Chargeback.amount + Chargeback.fee))
        .where(*_at_risk_filter())  # type: ignore[arg-type]
        .group_by(Chargeback.order_id)
    ).all()
    return {order_id: Decimal(str(total or 0)) for order_id, total in rows if order_id is not None}
