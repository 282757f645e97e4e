"""Who triggers the cross-checks besides beat: the one place these reactions are wired.

- ``on_orders_applied`` (the mirror applied Shopify orders: webhook, reconcile, our re-read) → the
  applied orders are checked at once (a backfill's are left to beat's sweep);
- ``on_supplier_change`` (a supplier order changed state: a poll, an operator's record) → its order;
- ``supplier.events.recorded`` (an operator linked a supplier order, opened or resolved a dispute, recorded
  a refund: no state moved) → its order, so the alert that record answers resolves at once.

Both run inside the caller's transaction: the alert, its resolution and its notification outbox rows
commit (or roll back) with the change that caused them. Wired in ``worker.wiring`` (every entry point).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from models import SupplierOrder
from worker import clock
from worker.crosscheck.service import check_orders
from worker.mirror.apply import AppliedOrder


def check_applied_orders(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    # A backfill brings in history by the hundred thousand: beat's sweep checks its recent orders once,
    # instead of every batch paying for it (and the timeline filling with a backfill's alerts).
    live = [a.order_id for a in applied if a.snapshot.source != "backfill"]
    if live:
        check_orders(session, live, clock.now())


def check_supplier_change(session: Session, so: SupplierOrder, old_state: str, new_state: str) -> None:
    if so.order_id is not None:
        check_orders(session, [so.order_id], clock.now())


def check_supplier_recorded(session: Session, so: SupplierOrder) -> None:
    if so.order_id is not None:
        check_orders(session, [so.order_id], clock.now())
