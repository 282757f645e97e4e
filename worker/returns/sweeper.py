"""Returns left behind: a return in ``shopify_action`` with no live intent whose advance message was lost
(a crash between commit and publish, the broker down) is advanced again. Intents themselves are retried
by the cancellation sweeper (the same ``shopify_intents`` rows, whatever workflow they belong to)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ReturnCase, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
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
