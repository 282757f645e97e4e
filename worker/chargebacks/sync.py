"""Reading disputes from Shopify into the ledger: one dispute (after its webhook, after a submission) and
the periodic read on beat that catches every webhook Shopify never delivered.

The periodic read lists ``disputes(query: "initiated_at:>='…'")`` over ``LOOKBACK`` page by page (each page
applied in its own transaction), then reads one by one the ledger's undecided disputes older than that.
After applying, deadline alerts are brought up to date and auto-submission (if turned on) is considered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback
from models.chargebacks import FINAL_STATUSES
from models.types import utcnow
from worker.chargebacks import mirror, submission
from worker.db import UnitOfWork

LOOKBACK = dt.timedelta(days=180)
PAGE = 50


def _apply_nodes(sessions: UnitOfWork, shop_id: int, nodes: list[dict[str, Any]], actor: str) -> list[str]:
    with sessions() as session:
        now = utcnow()
        seen = []
        for node in nodes:
            row = mirror.apply_dispute(session, shop_id, mirror.from_graphql(node), actor=actor)
            submission.maybe_auto_submit(session, row, now)
            seen.append(row.dispute_gid)
        return seen


def auto_submit(sessions: UnitOfWork, shop_id: int, dispute_gid: str) -> int | None:
    """Submit without a person if the store turned it on for this reason (see ``submission``); the intent id."""
    with sessions() as session:
        row = session.scalars(
            select(Chargeback).where(Chargeback.shop_id == shop_id, Chargeback.dispute_gid == dispute_gid)
        ).first()
        intent = submission.maybe_auto_submit(session, row, utcnow()) if row is not None else None
        return intent.id if intent is not None else None


def refresh(sessions: UnitOfWork, shop_id: int, dispute_gid: str, client: ShopifyClient) -> str | None:
    """Read one dispute and merge it; returns its status (None: Shopify does not know it)."""
    node = client.execute("DisputeById", {"id": dispute_gid})["dispute"]
    if node is None:
        return None
    _apply_nodes(sessions, shop_id, [node], actor="shopify:read")
    return str(node["status"])


def sync_shop(sessions: UnitOfWork, shop_id: int, client: ShopifyClient, now: dt.datetime) -> int:
    """The periodic read for one shop; returns how many disputes were read."""
    since = (now - LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")
    seen: set[str] = set()
    for page in client.paginate(
        "DisputesPage", {"first": PAGE, "query": f"initiated_at:>='{since}'"}, connection="disputes"
    ):
        seen.update(_apply_nodes(sessions, shop_id, list(page.get("nodes") or []), actor="shopify:sync"))
    with sessions() as session:
        older = session.scalars(
            select(Chargeback.dispute_gid).where(
                Chargeback.shop_id == shop_id, Chargeback.status.not_in(FINAL_STATUSES)
            )
        ).all()
    for gid in [g for g in older if g not in seen]:
        refresh(sessions, shop_id, gid, client)
        seen.add(gid)
    return len(seen)
