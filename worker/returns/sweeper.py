"""Returns left behind.

- a return in ``shopify_action`` with no live intent whose advance message was lost (a crash between
  commit and publish, the broker down) is advanced again; intents themselves are retried by the
  cancellation sweeper (the same ``shopify_intents`` rows, whatever workflow they belong to);
- a customer's request whose ``returns/request`` webhook never arrived (Shopify guarantees no delivery) is
  found by listing the orders Shopify shows with ``return_status:return_requested`` and synced.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import ReturnCase, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
from models.types import utcnow
from worker import outbox
from worker.returns import service
from worker.returns import states as rs

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
