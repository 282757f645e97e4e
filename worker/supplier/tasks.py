"""Supplier polling tasks: ids only, thin; the service functions do the work."""

from __future__ import annotations

import datetime as dt

from models import SupplierOrder
from models.types import utcnow
from worker import clock
from worker.celery_app import app
from worker.db import session_scope
from worker.settings import get_settings
from worker.supplier.gateway import client_from_settings
from worker.supplier.linking import link_recent_orders
from worker.supplier.polling import poll_due, poll_supplier_order

#: Orders mirrored within this window are re-checked for AliExpress order numbers (task runs every 5 min).
LINK_WINDOW = dt.timedelta(minutes=15)


@app.task(name="supplier.poll_due")
def poll_due_orders() -> dict[str, int]:
    """Poll the supplier orders whose ``next_poll_at`` has come (beat, every minute)."""
    with client_from_settings() as client:
        settings = get_settings()
        # Half the hard limit: the run ends cleanly long before Celery would kill it mid-order.
        budget = settings.task_time_limit_seconds / 2
        summary = poll_due(session_scope, client, clock.now, settings.supplier_poll_batch, budget_seconds=budget)
    return summary.outcomes


@app.task(name="supplier.poll_one")
def poll_one(supplier_order_id: int) -> str:
    """Poll one supplier order now (after an operator records something)."""
    with session_scope() as session, client_from_settings() as client:
        so = session.get(SupplierOrder, supplier_order_id)
        if so is None:
            return "missing"
        return poll_supplier_order(session, so, client, clock.now()).outcome


@app.task(name="supplier.link_recent")
def link_recent() -> int:
    """Link AliExpress order numbers found on recently mirrored Shopify orders (note attribute or tag)."""
    with session_scope() as session:
        return link_recent_orders(session, utcnow() - LINK_WINDOW)  # mirrored_at: the real clock
