"""Money at risk on chargebacks: the disputed amount plus the chargeback fee, per order, until the dispute
is won. A chargeback still open (NEEDS_RESPONSE, UNDER_REVIEW) counts, because the bank already took the
money back; a lost or accepted one stays counted (the loss is real); a won one (or one PREVENTED before it
became a chargeback) counts 0. An inquiry moves no money until it becomes a chargeback.

A chargeback whose order is not mirrored yet (the dispute came first) counts all the same: the bank took
the money whether or not the ledger knows the order. :func:`at_risk` gives the linked ones per order,
:func:`unlinked` the others, one per dispute, named by its order's (or its own) Shopify reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Chargeback

CLEARED = ("WON", "PREVENTED")


def _at_risk_filter() -> list[object]:
    """Chargebacks not won, linked to an order or not."""
    return [Chargeback.dispute_type == "CHARGEBACK", Chargeback.status.not_in(CLEARED)]


def cost(row: Chargeback) -> Decimal:
    """What one dispute costs the store by this module's rule: amount + fee for a chargeback not won (nor
    prevented), 0 otherwise (an inquiry moves no money)."""
    return row.amount + row.fee if row.dispute_type == "CHARGEBACK" and row.status not in CLEARED else Decimal(0)


def at_risk(session: Session) -> dict[int, Decimal]:
    """Order id → disputed amount + fee of its chargebacks not won (those of mirrored orders: see
    :func:`unlinked` for the others)."""
    rows = session.execute(
        select(Chargeback.order_id, func.sum(Chargeback.amount + Chargeback.fee))
        .where(*_at_risk_filter(), Chargeback.order_id.is_not(None))  # type: ignore[arg-type]
        .group_by(Chargeback.order_id)
    ).all()
    return {order_id: Decimal(str(total or 0)) for order_id, total in rows if order_id is not None}


@dataclass(frozen=True)
class Unlinked:
    """A chargeback not won whose order is not mirrored yet."""

    dispute_gid: str
    order_gid: str | None
    currency: str
    #: Disputed amount + fee.
    amount: Decimal

    @property
    def reference(self) -> str:
        """How a report names it: its order's GID (not mirrored yet), else the dispute's."""
        return f"{self.order_gid or self.dispute_gid} (not mirrored yet)"


def unlinked(session: Session) -> list[Unlinked]:
    """Chargebacks not won whose order is not mirrored yet, oldest first: at risk all the same."""
    query = (
        select(Chargeback.dispute_gid, Chargeback.order_gid, Chargeback.currency, Chargeback.amount + Chargeback.fee)
        .where(*_at_risk_filter(), Chargeback.order_id.is_(None))  # type: ignore[arg-type]
        .order_by(Chargeback.id)
    )
    return [
        Unlinked(gid, order_gid, currency, Decimal(str(total)))
        for gid, order_gid, currency, total in session.execute(query)
    ]
