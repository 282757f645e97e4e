"""Supplier recovery after a return's refund: which AliExpress orders to dispute, and by when.

When a return refunded the customer for goods whose supplier refunds that reason (the policy's
``expected_supplier_recovery`` > 0), each supplier order supplying the returned lines gets a
``dispute_window_ends_at``: AliExpress accepts a dispute until N days (``DROPSYNC_SUPPLIER_DISPUTE_WINDOW_DAYS``,
default 15) after the order completes — receipt confirmed, or buyer protection's end while the buyer has
not confirmed. The deadlines sweep raises the "open a dispute" alert (``dispute_window`` kind) until a
dispute is recorded for that refund; ``dropsync dispute open`` is accepted on a completed order within
that window.

Each refund asks on its own: a dispute settled before its return was requested was about earlier goods,
so a second damaged return of the same order after the first dispute was resolved gets a window (and an
alert) again. The request is ``SupplierOrder.recovery_asked_at``, set with the window (and the
``return.recovery_due`` timeline event); a dispute recorded at or after it covers it. A supplier order
with a dispute still open is not asked again: that dispute is the claim (the operator adds the new goods
to it); nor is one with a dispute opened since the return was requested, settled or not: the operator
claimed for these goods while they travelled back (asking again sent them to dispute the same goods twice).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import ReturnCase, SupplierOrder, SupplierOrderItem
from models.types import utcnow
from worker.policy.decision import Decision
from worker.timeline import record_event

#: The timeline event of a refund asking a supplier order for recovery.
RECOVERY_DUE = "return.recovery_due"


def window_days() -> int:
    from worker.settings import get_settings

    return int(get_settings().supplier_dispute_window_days)


def dispute_window_end(so: SupplierOrder, now: dt.datetime) -> dt.datetime:
    """The last moment AliExpress accepts a dispute on ``so`` (completion + the window)."""
    completed = so.closed_at if so.status == st.CLOSED_COMPLETED and so.closed_at else None
    completes = completed or so.protection_ends_at or now
    return completes + dt.timedelta(days=window_days())


def _supplying(session: Session, case: ReturnCase) -> list[SupplierOrder]:
    lines = {line.line_item_id for line in case.lines}
    orders = list(session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == case.order_id)))
    covering = set(
        session.scalars(select(SupplierOrderItem.supplier_order_id).where(SupplierOrderItem.line_item_id.in_(lines)))
    )
    return [so for so in orders if so.id in covering or not so.items]


def expect_supplier_recovery(session: Session, case: ReturnCase) -> list[SupplierOrder]:
    """After the refund: set the dispute window on the supplier orders that should pay it back. Flushes."""
    decision = Decision.stored(case.policy_decision)
    expected = decision.expected_supplier_recovery if decision is not None else Decimal(0)
    if case.refund_total <= 0 or expected <= 0:
        return []
    now, marked = utcnow(), []
    for so in _supplying(session, case):
        claimed = any(d.state == "open" or d.opened_at >= case.created_at for d in so.disputes)
        if so.amount_paid <= 0 or so.status == st.CLOSED_CANCELLED or claimed:
            continue
        so.dispute_window_ends_at, so.recovery_asked_at = dispute_window_end(so, now), now
        marked.append(so)
        record_event(
            session, shop_id=case.shop_id, order_id=case.order_id, supplier_order_id=so.id, kind=RECOVERY_DUE,
            actor="system",
            message=f"return {case.id} refunded {case.refund_total} {case.currency}: open a dispute with the seller of "
            f"supplier order {so.supplier_order_id} ({case.reason}) by {so.dispute_window_ends_at:%Y-%m-%d}; "
            f"expected back {expected} {case.currency}",
            data={"return_id": case.id, "expected": str(expected)},
        )  # fmt: skip
    session.flush()
    return marked
