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
  an "open a dispute" alert for each supplier order that refused, is not shipped and has no dispute open;
  one whose condition went (a dispute recorded, tracking, shipped or closed) is resolved;
- requests in the supplier stages have an "ask the seller" alert for each paid seller nobody asked yet
  (``service.ask_the_seller``, also run when a supplier order changes), resolved once it is asked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import CancellationRequest, OutboxMessage, ShopifyIntent, SupplierOrder
from models.cancellation import LIVE_INTENT_STATES
from worker import outbox
from worker.alerts import AlertSpec, keep_alerts
from worker.cancellation import intents as ik
from worker.cancellation import service
from worker.cancellation import states as s
from worker.deadlines.rules import has_open_dispute, refused

#: A request in ``shopify_action`` untouched this long is advanced again.
IDLE_REQUEST = dt.timedelta(minutes=1)


@dataclass
class SweepResult:
    retried: int = 0
    failed: int = 0
    advanced: int = 0
    dispute_alerts: int = 0
    ask_seller_alerts: int = 0


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
    result.ask_seller_alerts = _ask_seller_alerts(session)
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
    """Raise "open a dispute" for each of a refused request's supplier orders that needs one now (once; again
    if its condition comes back after a resolution), and resolve the request's ones whose condition went.
    Leaving ``supplier_refused`` resolves them all (``states.hand_over_alerts``). How many were raised."""
    refused_requests = session.scalars(
        select(CancellationRequest).where(CancellationRequest.state == s.SUPPLIER_REFUSED)
    ).all()
    raised = 0
    for request in refused_requests:
        specs: list[AlertSpec] = []
        why_not: dict[str, str] = {}
        for so in service.relevant_supplier_orders(session, request):
            key, reason = f"{s.open_dispute_prefix(request.id)}{so.id}", _no_dispute_needed(so, now)
            if reason is None:
                specs.append(_open_dispute(request, so, key))
            else:
                why_not[key] = reason
        raised += keep_alerts(
            session, s.open_dispute_prefix(request.id), specs, actor="cancellation",
            gone="no longer a supplier order of the request", reasons=why_not,
        )  # fmt: skip
    return raised


def _no_dispute_needed(so: SupplierOrder, now: dt.datetime) -> str | None:
    """Why ``so`` needs no dispute now; None when it does: the seller refused its latest cancellation
    request, it has not shipped, no tracking came by its tracking (or handling) deadline, and no dispute
    is open."""
    deadline = so.tracking_due_at or so.handling_deadline
    if has_open_dispute(so):
        return "a dispute is open"
    if so.tracking_numbers or so.status not in st.NOT_SHIPPED_STATES:
        return f"the supplier order is {st.STATE_LABELS.get(so.status, so.status)}"
    if not refused(so):
        return "the seller did not refuse its latest cancellation request"
    if deadline is None or deadline > now:
        return "its tracking deadline has not passed"
    return None


def _open_dispute(request: CancellationRequest, so: SupplierOrder, key: str) -> AlertSpec:
    """The alert (reopened if the seller refused again after being asked again, or a dispute closed while it
    still has not shipped)."""
    deadline = so.tracking_due_at or so.handling_deadline
    assert deadline is not None
    message = (
        f"cancellation request {request.id}: the seller refused to cancel supplier order "
        f"{so.supplier_order_id} and gave no tracking by {deadline:%Y-%m-%d %H:%M} UTC: open a dispute"
    )
    return AlertSpec(
        request.shop_id, request.order_id, so.id, "open_dispute", "warning", message, deadline, key,
        f"order {request.order_id}", f"dropsync dispute open {so.supplier_order_id} --reason not_shipped",
    )  # fmt: skip


def _ask_seller_alerts(session: Session) -> int:
    waiting = session.scalars(select(CancellationRequest).where(CancellationRequest.state.in_(s.SUPPLIER_STAGES))).all()
    return sum(service.ask_the_seller(session, request) for request in waiting)
