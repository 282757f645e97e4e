"""Chargeback tasks: thin boundaries (ids in, one service call, the unit of work owns the commit)."""

from __future__ import annotations

import structlog
from celery import Task
from sqlalchemy import select

from models import Chargeback, IntentState
from models.types import utcnow
from worker.cancellation import execution
from worker.cancellation.intents import get_intent
from worker.celery_app import app
from worker.chargebacks import deadlines, sync, tracking
from worker.db import session_scope
from worker.mirror.shops import ShopsFailedError, client_for_shop, for_each_shop

log = structlog.get_logger(__name__)


@app.task(name="chargebacks.refresh")
def refresh(shop_id: int, dispute_gid: str) -> str | None:
    """Read one dispute from Shopify (after its webhook) and merge it; then its order's AliExpress tracking."""
    with client_for_shop(shop_id) as client:
        status = sync.refresh(session_scope, shop_id, dispute_gid, client)
    read_tracking(shop_id, dispute_gid)
    sync.auto_submit(session_scope, shop_id, dispute_gid)  # after the tracking: only a complete pack goes alone
    return status


def read_tracking(shop_id: int, dispute_gid: str) -> int:
    """Keep the AliExpress tracking of the disputed order's parcels on the chargeback (when AliExpress is set up)."""
    from worker.settings import get_settings
    from worker.supplier.gateway import client_from_settings

    with session_scope() as session:
        found = session.scalar(
            select(Chargeback.id).where(Chargeback.shop_id == shop_id, Chargeback.dispute_gid == dispute_gid)
        )
    if found is None or not get_settings().aliexpress_app_key:
        return 0
    with client_from_settings() as ae:
        return tracking.snapshot(session_scope, found, ae)


@app.task(name="chargebacks.submit", bind=True)
def submit(self: Task, intent_id: int) -> str:  # type: ignore[type-arg]
    """Run a submission intent (read first when an earlier attempt may have landed), then re-read the dispute."""
    with session_scope() as session:
        intent = get_intent(session, intent_id)
        shop_id, dispute_gid = intent.shop_id, str(intent.params["dispute_gid"])
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    with client_for_shop(shop_id) as client:
        state = execution.execute_intent(session_scope, intent_id, client, reclaim_stale=redelivered)
        if state == IntentState.SUCCEEDED:
            sync.refresh(session_scope, shop_id, dispute_gid, client)
    return state


@app.task(name="chargebacks.sync_all")
def sync_all() -> int:
    """Beat: read every shop's recent and undecided disputes; bring the evidence-deadline alerts up to date."""
    read, failed = for_each_shop(
        "chargebacks sync", lambda shop_id, client: sync.sync_shop(session_scope, shop_id, client, utcnow())
    )
    # The evidence deadlines come from the ledger and the clock alone: they escalate (needs response → due
    # near → passed) even while Shopify cannot be read, which is when a deadline slips by unseen.
    with session_scope() as session:
        deadlines.sync_all(session, utcnow())
    if failed:  # the task still fails (visible in the worker's metrics and Flower), after every shop was tried
        raise ShopsFailedError(f"disputes not read for shop(s) {failed}; {read} read for the others")
    return read
