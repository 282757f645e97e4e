"""Returns tasks: thin boundaries (ids in, one service call, the unit of work owns the commit)."""

from __future__ import annotations

from celery import Task

from integrations.shopify.client import ShopifyClient
from worker.celery_app import app
from worker.db import session_scope
from worker.mirror.shops import ShopsFailedError, client_for_shop, for_each_shop
from worker.returns import execution, service
from worker.returns.view import read_return


def _redelivered(task: Task) -> bool:  # type: ignore[type-arg]
    info = task.request.delivery_info or {}
    return bool(info.get("redelivered"))


@app.task(name="returns.advance", bind=True)
def advance(self: Task, return_id: int) -> str:  # type: ignore[type-arg]
    """Carry a return in ``shopify_action`` forward (re-read Shopify, plan, perform). Idempotent."""
    with session_scope() as session:
        shop_id = service.get_return(session, return_id).shop_id
    with client_for_shop(shop_id) as client:
        return execution.run_return(session_scope, return_id, client, reclaim_stale=_redelivered(self))


@app.task(name="returns.sync")
def sync(shop_id: int, return_gid: str) -> str:
    """Read one return from Shopify and mirror it (a new customer request is decided). Idempotent."""
    with client_for_shop(shop_id) as client:
        view = read_return(client, return_gid)
        with session_scope() as session:
            case = service.mirror_return(session, shop_id, view)
            return_id = case.id if case is not None else None
        return "ignored" if return_id is None else execution.run_return(session_scope, return_id, client)


@app.task(name="returns.sweep")
def sweep() -> int:
    """Beat: advance returns whose advance message was lost; alert on goods overdue (the stack's clock)."""
    import datetime as dt

    from models.types import utcnow
    from worker import clock
    from worker.returns import sweeper
    from worker.settings import get_settings

    wait = dt.timedelta(days=get_settings().return_goods_wait_days)
    with session_scope() as session:
        return sweeper.sweep(session, utcnow()) + sweeper.goods_overdue(session, clock.now(), wait)


@app.task(name="returns.reconcile")
def reconcile() -> int:
    """Beat: sync customer return requests whose webhook was lost, for every active shop."""
    from worker.returns import sweeper

    def reconcile_shop(shop_id: int, client: ShopifyClient) -> int:
        requested = sweeper.requested_on_shopify(client)
        with session_scope() as session:
            return sweeper.reconcile_requests(session, shop_id, requested)

    queued, failed = for_each_shop("returns reconcile", reconcile_shop)
    if failed:  # the task still fails (visible in the worker's metrics and Flower), after every shop was tried
        raise ShopsFailedError(f"return requests not read for shop(s) {failed}; {queued} queued for the others")
    return queued
