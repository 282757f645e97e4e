"""The beat sweeper: nothing stays stuck silently.

- live intents whose retry time came (``unknown`` after a lost verdict, ``pending`` not yet run, a
  ``submitting`` one abandoned by a dead worker) are sent round again: one outbox message per
  *dispatch*, each holding a lease; a message lost after publishing (Redis restarted without
  persistence, a worker killed holding it) lets the lease expire and the next pass sends another. A
  dispatch whose outbox row is not published yet (broker down) is the relay's to deliver: not resent,
  not counted. After ``MAX_ATTEMPTS`` claims or ``MAX_DISPATCHES`` sends an intent is failed and handed
  to a person (alert + timeline);
- requests in ``shopify_action`` with no live intent (the advance message was lost, or they wait for a
  fulfillment service that answered without a webhook) are advanced again;
- requests the seller refused, still without tracking after the tracking (or handling) deadline, raise
  an "open a dispute" alert.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CancellationRequest, OutboxMessage, ShopifyIntent, SupplierOrder
from models.cancellation import LIVE_INTENT_STATES
from worker import outbox
from worker.alerts import raise_order_alert
from worker.cancellation import intents as ik
from worker.cancellation import service
from worker.cancellation import states as s

#: A request in ``shopify_action`` untouched this long is advanced again.
IDLE_REQUEST = dt.timedelta(minutes=1)


@dataclass
class SweepResult:
    retried: int = 0
    failed: int = 0
    advanced: int = 0
    dispute_alerts: int = 0


def sweep(session: Session, now: dt.datetime) -> SweepResult:
    """One pass (flushes only). Idempotent: running it twice in a row enqueues nothing new."""
    result = SweepResult()
    lease = ik.dispatch_lease()
    for intent in ik.due_intents(session, now):
        if intent.attempts >= ik.MAX_ATTEMPTS or intent.dispatches >= ik.MAX_DISPATCHES:
            why = f"gave up after {intent.attempts} attempts and {intent.dispatches} retry messages"
            ik.mark_failed(session, intent, f"{why}: {intent.last_error or 'no answer'}")
            _request_to_operator(session, intent)
            result.failed += 1
            continue
        if _awaiting_relay(session, intent):
            intent.next_attempt_at = now + lease  # out of the due set (limit 200) while the relay delivers it
            continue
        intent.dispatches += 1
        intent.next_attempt_at = now + lease
        outbox.enqueue(session, service.EXECUTE_TASK, [intent.id], dedupe_key=_dispatch_key(intent))
        result.retried += 1
    result.advanced = _advance_idle(session, now)
    result.dispute_alerts = _dispute_alerts(session, now)
    return result


def _dispatch_key(intent: ShopifyIntent) -> str:
    return f"{service.EXECUTE_TASK}:{intent.id}:dispatch:{intent.dispatches}"


def _awaiting_relay(session: Session, intent: ShopifyIntent) -> bool:
    """The last dispatch is still unpublished (the broker is down): the relay delivers it; sending
    another would only pile up messages and burn the intent's dispatches while nothing was lost."""
    if intent.dispatches == 0:
        return False
    published = session.execute(
        select(OutboxMessage.published_at).where(OutboxMessage.dedupe_key == _dispatch_key(intent))
    ).first()
    return published is not None and published[0] is None


def _request_to_operator(session: Session, intent: ShopifyIntent) -> None:
    from worker.cancellation.execution import request_to_operator

    if intent.return_id is not None:
        from worker.returns.handover import return_intent_failed

        return_intent_failed(session, intent, actor="sweeper")
    if intent.cancellation_request_id is None:
        return
    request = session.get(CancellationRequest, intent.cancellation_request_id)
    if request is not None and request.state == s.SHOPIFY_ACTION:
        request_to_operator(session, request, f"Shopify {intent.kind} failed: {intent.last_error}", actor="sweeper")


def _advance_idle(session: Session, now: dt.datetime) -> int:
    live = select(ShopifyIntent.cancellation_request_id).where(
        ShopifyIntent.state.in_(LIVE_INTENT_STATES), ShopifyIntent.cancellation_request_id.is_not(None)
    )
    idle = session.scalars(
        select(CancellationRequest).where(
            CancellationRequest.state == s.SHOPIFY_ACTION,
            CancellationRequest.updated_at <= now - IDLE_REQUEST,
            CancellationRequest.id.not_in(live),
        )
    ).all()
    count = 0
    for request in idle:
        bucket = int(now.timestamp() // IDLE_REQUEST.total_seconds())
        key = f"cancellation.advance:{request.id}:sweep:{bucket}"
        if outbox.enqueue(session, service.ADVANCE_TASK, [request.id], dedupe_key=key) is not None:
            count += 1
    return count


def _dispute_alerts(session: Session, now: dt.datetime) -> int:
    refused = session.scalars(select(CancellationRequest).where(CancellationRequest.state == s.SUPPLIER_REFUSED)).all()
    raised = 0
    for request in refused:
        for so in session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == request.order_id)):
            deadline = so.tracking_due_at or so.handling_deadline
            if so.tracking_numbers or deadline is None or deadline > now:
                continue
            message = (
                f"cancellation request {request.id}: the seller refused to cancel supplier order "
                f"{so.supplier_order_id} and gave no tracking by {deadline:%Y-%m-%d %H:%M} UTC: open a dispute"
            )
            if raise_order_alert(
                session, shop_id=request.shop_id, order_id=request.order_id, kind="open_dispute",
                key=f"cancellation:open_dispute:{request.id}:{so.id}", message=message, actor="cancellation",
            ):  # fmt: skip
                raised += 1
    return raised
