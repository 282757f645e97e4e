"""The reconciliation sweep: re-read every order Shopify changed since the watermark, apply, advance.

Reads ``orders(query: "updated_at:>='W - overlap'", sortKey: UPDATED_AT)`` page by page through the one
Shopify client (cost-paced). Each page is applied and committed, and the shop's watermark advanced to the
page's newest ``updatedAt`` *in that same transaction*, so a crash resumes from the last committed page
(minus the overlap window) with no gap. This is what catches every webhook Shopify never delivered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.orm import Session

from integrations.shopify import documents
from integrations.shopify.client import ShopifyClient, record_throttle_status
from integrations.shopify.paging import complete_order
from models import Shop
from models.types import utcnow
from worker.db import UnitOfWork
from worker.db.transient import run_transaction
from worker.errors import NotFoundError
from worker.mirror.apply import ApplyResult, apply_snapshots, queue_re_reads
from worker.mirror.snapshot import from_graphql
from worker.observability.metrics import RECONCILE_DRIFT

log = structlog.get_logger(__name__)

MAX_QUERY_COST = 1000
#: Where a shop with no watermark starts: Shopify shows 60 days without ``read_all_orders``; older history
#: is the bulk backfill's job.
INITIAL_LOOKBACK = dt.timedelta(days=60)


@dataclass
class ReconcileResult:
    pages: int = 0
    orders_seen: int = 0
    drift: int = 0  # orders the ledger lacked or held an older version of
    watermark: dt.datetime | None = None


def page_size(max_cost: int = MAX_QUERY_COST) -> int:
    """The largest page whose *requested* cost stays under Shopify's per-query maximum."""
    doc = documents.load("OrdersPage")
    one, two = documents.estimate_cost(doc, {"first": 1}), documents.estimate_cost(doc, {"first": 2})
    per_order = max(two - one, 1)
    return max(1, min(250, (max_cost - (one - per_order)) // per_order))


def search_time(moment: dt.datetime) -> str:
    """A moment as Shopify's search syntax compares it (whole seconds, UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_query(since: dt.datetime) -> str:
    return f"updated_at:>='{search_time(since)}'"


def drift_of(result: ApplyResult) -> int:
    return sum(
        1 for a in result.applied if a.previous is None or a.previous["shopify_updated_at"] < a.snapshot.updated_at
    )


def reconcile_shop(
    unit_of_work: UnitOfWork,
    shop_id: int,
    client: ShopifyClient,
    overlap: dt.timedelta,
    *,
    on_page: Callable[[ReconcileResult], None] | None = None,
) -> ReconcileResult:
    with unit_of_work() as session:
        shop = _shop(session, shop_id)
        since = (shop.orders_watermark or utcnow() - INITIAL_LOOKBACK) - overlap
    result, cursor, first = ReconcileResult(), None, page_size()
    while True:
        data = client.execute("OrdersPage", {"first": first, "after": cursor, "query": search_query(since)})
        connection = data["orders"]
        _apply_page(unit_of_work, shop_id, connection["nodes"], client, result)
        if on_page:
            on_page(result)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
    with unit_of_work() as session:
        _shop(session, shop_id).last_reconciled_at = utcnow()
    RECONCILE_DRIFT.inc(result.drift)
    log.info("reconciled", shop=shop_id, pages=result.pages, orders=result.orders_seen, drift=result.drift)
    return result


def refresh_orders(unit_of_work: UnitOfWork, shop_id: int, client: ShopifyClient, gids: list[str]) -> ApplyResult:
    """Read these orders from Shopify now and apply them (a GraphQL version: it replaces one of the same
    second). For orders whose versions of one second could not be ordered (``ApplyResult.undecided``); an
    order Shopify no longer has is skipped (its ``orders/delete`` webhook says so)."""
    nodes = [node for node in (read_for_mirror(client, gid) for gid in gids) if node is not None]
    snapshots = [from_graphql(node, source="reconcile") for node in nodes]

    def apply(session: Session) -> ApplyResult:
        applied = apply_snapshots(session, shop_id, snapshots)
        record_throttle_status(_shop(session, shop_id), client.throttle_status)
        return applied

    result = run_transaction(unit_of_work, apply, what="orders re-read")
    log.info("orders re-read", shop=shop_id, asked=len(gids), applied=len(result.applied))
    return result


def _apply_page(
    unit_of_work: UnitOfWork, shop_id: int, nodes: list[dict[str, Any]], client: ShopifyClient, result: ReconcileResult
) -> None:
    for node in nodes:
        complete_order(client, node)
    snapshots = [from_graphql(node, source="reconcile") for node in nodes]

    def apply(session: Session) -> tuple[ApplyResult, dt.datetime | None]:
        applied = apply_snapshots(session, shop_id, snapshots)
        queue_re_reads(session, shop_id, applied)
        shop = _shop(session, shop_id)
        if snapshots:
            newest = max(s.updated_at for s in snapshots)
            # Only forward, and only with the page that reached it: committed together.
            if shop.orders_watermark is None or newest > shop.orders_watermark:
                shop.orders_watermark = newest
        record_throttle_status(shop, client.throttle_status)
        return applied, shop.orders_watermark

    applied, watermark = run_transaction(unit_of_work, apply, what="reconciliation page")
    result.pages += 1
    result.orders_seen += len(snapshots)
    result.drift += drift_of(applied)
    result.watermark = watermark


def read_for_mirror(client: ShopifyClient, gid: str) -> dict[str, Any] | None:
    """One order as Shopify shows it now, whole, for the mirror: ``OrderById``, then the line items and
    fulfillment orders its first pages cut off. None if Shopify has no such order. Every reader of one
    order for the mirror reads it here (a re-read, an action's confirmation): a node of the first page
    only would leave the lines past it as they were."""
    node: dict[str, Any] | None = client.execute("OrderById", {"id": gid})["order"]
    if node is not None:
        complete_order(client, node)
    return node


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFoundError(f"unknown shop id {shop_id}")
    return shop
