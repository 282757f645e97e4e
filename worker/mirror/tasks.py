"""Mirror tasks: thin boundaries that open the unit of work and call one service function."""

from __future__ import annotations

import datetime as dt

import structlog

from models.types import utcnow
from worker.celery_app import app
from worker.db import session_scope
from worker.mirror import inbox, reconcile
from worker.mirror.apply import REFRESH_TASK
from worker.mirror.shops import active_shop_ids, client_for_shop
from worker.settings import get_settings

log = structlog.get_logger(__name__)


@app.task(name="mirror.drain_inbox")
def drain_inbox() -> int:
    """Apply every unhandled webhook delivery (also the beat sweeper for publishes that were lost)."""
    handled = inbox.drain(session_scope)
    with session_scope() as session:
        inbox.observe_lag(session)
    if handled:
        log.info("inbox drained", deliveries=handled)
    return handled


@app.task(name=REFRESH_TASK)
def refresh_orders(shop_id: int, gids: list[str]) -> int:
    """Re-read orders whose webhook and GraphQL versions of one second could not be ordered."""
    with client_for_shop(shop_id) as client:
        return len(reconcile.refresh_orders(session_scope, shop_id, client, gids).applied)


@app.task(name="mirror.prune_inbox")
def prune_inbox() -> int:
    """Beat: delete handled deliveries older than DROPSYNC_INBOX_RETENTION_DAYS (their bodies hold PII)."""
    retention = dt.timedelta(days=get_settings().inbox_retention_days)
    with session_scope() as session:
        pruned = inbox.prune(session, utcnow(), retention)
        inbox.resolve_applied_failures(session)  # a delivery replayed by any path, or pruned
    if pruned:
        log.info("inbox pruned", deliveries=pruned, retention_days=retention.days)
    return pruned


@app.task(name="mirror.reconcile_all")
def reconcile_all() -> int:
    """Beat: one reconciliation per active shop (a queued sweep expires before the next is due)."""
    with session_scope() as session:
        shop_ids = active_shop_ids(session)
    interval = get_settings().reconcile_interval_seconds
    for shop_id in shop_ids:
        reconcile_shop_task.apply_async(args=(shop_id,), expires=interval)
    return len(shop_ids)


@app.task(name="mirror.reconcile_shop")
def reconcile_shop_task(shop_id: int) -> int:
    settings = get_settings()
    overlap = dt.timedelta(seconds=settings.reconcile_overlap_seconds)
    with client_for_shop(shop_id) as client:
        return reconcile.reconcile_shop(session_scope, shop_id, client, overlap).drift
