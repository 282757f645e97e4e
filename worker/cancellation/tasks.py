"""Cancellation tasks: thin boundaries (ids in, one service call, the unit of work owns the commit)."""

from __future__ import annotations

from celery import Task

from models import IntentState
from models.types import utcnow
from worker import outbox
from worker.cancellation import execution, sweeper
from worker.cancellation.service import get_request
from worker.celery_app import app
from worker.db import session_scope
from worker.mirror.shops import client_for_shop


def _redelivered(task: Task) -> bool:  # type: ignore[type-arg]
    """The broker handed this message out before (its first holder died): a ``submitting`` intent it
    left may be reclaimed (Shopify is read first)."""
    info = task.request.delivery_info or {}
    return bool(info.get("redelivered"))


@app.task(name="cancellation.advance", bind=True)
def advance(self: Task, request_id: int) -> str:  # type: ignore[type-arg]
    """Carry a request in ``shopify_action`` forward (re-read Shopify, plan, perform). Idempotent."""
    with session_scope() as session:
        shop_id = get_request(session, request_id).shop_id
    with client_for_shop(shop_id) as client:
        return execution.run_request(session_scope, request_id, client, reclaim_stale=_redelivered(self))


@app.task(name="cancellation.execute_intent", bind=True)
def execute_intent(self: Task, intent_id: int) -> str:  # type: ignore[type-arg]
    """(Re)run one intent, then carry its request forward. A redelivered message reclaims ``submitting``."""
    from worker.cancellation.intents import get_intent

    with session_scope() as session:
        intent = get_intent(session, intent_id)
        shop_id, request_id, return_id = intent.shop_id, intent.cancellation_request_id, intent.return_id
    redelivered = _redelivered(self)
    with client_for_shop(shop_id) as client:
        state = execution.execute_intent(session_scope, intent_id, client, reclaim_stale=redelivered)
        if request_id is not None and state == IntentState.SUCCEEDED:
            return execution.run_request(session_scope, request_id, client)
        if return_id is not None and state == IntentState.SUCCEEDED:
            from worker.returns.execution import run_return

            return run_return(session_scope, return_id, client)
    return state


@app.task(name="cancellation.sweep")
def sweep() -> dict[str, int]:
    """Beat: retry due intents, hand over exhausted ones, advance idle requests, dispute alerts."""
    with session_scope() as session:
        result = sweeper.sweep(session, utcnow())
    return vars(result)


@app.task(name="outbox.relay")
def relay() -> int:
    """Beat: publish outbox rows the after-commit hook did not (crash, broker down)."""
    with session_scope() as session:
        return outbox.relay(session)
