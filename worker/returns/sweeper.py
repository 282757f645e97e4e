"""Returns left behind.

- a return in ``shopify_action`` with no live intent whose advance message was lost (a crash between
  commit and publish, the broker down) is advanced again; intents themselves are retried by the
  cancellation sweeper (the same ``shopify_intents`` rows, whatever workflow they belong to);
- a customer's request whose ``returns/request`` webhook never arrived (Shopify guarantees no delivery) is
  found by listing the orders Shopify shows with ``return_status:return_requested`` and synced;
- an approved return whose goods never came back waits for ``dropsync returns received``, which only a
  person can give: after ``DROPSYNC_RETURN_GOODS_WAIT_DAYS`` in ``awaiting_goods`` it is in front of one,
  with a ``return_goods_overdue`` alert (resolved when it leaves that state).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Order, ReturnCase, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
from models.types import utcnow
from worker import outbox
from worker.alerts import AlertSpec, raise_new_alerts
from worker.returns import service
from worker.returns import states as rs
from worker.timeline import entered_at

IDLE_RETURN = dt.timedelta(minutes=1)


def sweep(session: Session, now: dt.datetime) -> int:
    """Enqueue ``returns.advance`` for idle returns (one per return per minute). Flushes only."""
    live = select(ShopifyIntent.return_id).where(
        ShopifyIntent.state.in_(LIVE_INTENT_STATES), ShopifyIntent.return_id.is_not(None)
    )
    idle = session.scalars(
        select(ReturnCase.id).where(
            ReturnCase.state == rs.SHOPIFY_ACTION,
            ReturnCase.updated_at <= now - IDLE_RETURN,
            ReturnCase.id.not_in(live),
        )
    ).all()
    bucket = int(now.timestamp() // IDLE_RETURN.total_seconds())
    count = 0
    for return_id in idle:
        key = f"returns.advance:{return_id}:sweep:{bucket}"
        if outbox.enqueue(session, service.ADVANCE_TASK, [return_id], dedupe_key=key) is not None:
            count += 1
    return count


def goods_overdue(session: Session, now: dt.datetime, wait: dt.timedelta) -> int:
    """Alert once per wait for every return in ``awaiting_goods`` longer than ``wait`` at ``now`` (the
    stack's clock); how many alerts were raised. Flushes only."""
    waiting = session.execute(
        select(ReturnCase, Order.name).join(Order, Order.id == ReturnCase.order_id)
        .where(ReturnCase.state == rs.AWAITING_GOODS).order_by(ReturnCase.id)
    ).all()  # fmt: skip
    specs = []
    for case, order_name in waiting:
        since = entered_at(case.state_history)
        if since is None or now < since + wait:
            continue
        days = (now - since).days
        message = (
            f"return {case.id} of {order_name} was approved on {since:%Y-%m-%d} and its goods are not recorded "
            f"as received after {days} days: ask the customer for the parcel's tracking; when it arrives, "
            f"dropsync returns received {case.id}; if it will not come back, cancel the return on Shopify "
            f"(dropsync follows)"
        )
        specs.append(AlertSpec(
            shop_id=case.shop_id, order_id=case.order_id, supplier_order_id=None, kind="return_goods_overdue",
            severity="warning", message=message, due_at=since + wait,
            dedupe_key=f"returns:{rs.AWAITING_GOODS}:{case.id}:{len(case.state_history)}",
            subject=order_name or f"order {case.order_id}", command=f"dropsync returns received {case.id}",
        ))  # fmt: skip
    return len(raise_new_alerts(session, specs, now, actor="returns"))


def requested_on_shopify(client: ShopifyClient, *, max_pages: int = 20) -> list[str]:
    """Return GIDs Shopify shows REQUESTED (a read: always safe), page by page, at most ``max_pages``."""
    found: list[str] = []
    after: str | None = None
    for _ in range(max_pages):
        page = client.execute("OrdersWithRequestedReturns", {"after": after})["orders"]
        for order in page.get("nodes") or []:
            found += [
                r["id"] for r in (order.get("returns") or {}).get("nodes") or [] if r.get("status") == "REQUESTED"
            ]
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        after = info.get("endCursor")
    return found


def reconcile_requests(session: Session, shop_id: int, requested: list[str]) -> int:
    """Queue ``returns.sync`` for every REQUESTED return the ledger does not hold (its returns/request
    webhook was lost). Flushes only; one message per return per hour."""
    known = set(session.scalars(select(ReturnCase.shopify_gid).where(ReturnCase.shopify_gid.in_(requested))))
    bucket = int(utcnow().timestamp() // 3600)
    count = 0
    for gid in requested:
        if gid in known:
            continue
        key = f"returns.sync:{gid}:reconcile:{bucket}"
        if outbox.enqueue(session, service.SYNC_TASK, [shop_id, gid], dedupe_key=key) is not None:
            count += 1
    return count
