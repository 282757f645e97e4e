"""The cancellation request's state machine: states, allowed transitions, and the one way to move.

=========================  ===================================================================================
state                      next
=========================  ===================================================================================
needs_approval             requested (a person approves), denied, withdrawn
requested                  shopify_action (nothing paid to the seller), supplier_cancel_requested,
                           supplier_confirmed, supplier_shipped, withdrawn
supplier_cancel_requested  supplier_confirmed, supplier_refused, supplier_shipped, withdrawn
supplier_refused           supplier_cancel_requested (asked again), supplier_confirmed, supplier_shipped,
                           withdrawn — an "open a dispute" alert once the tracking deadline passes (the
                           sweeper's), resolved when a dispute is open or tracking came, and on leaving
supplier_confirmed         shopify_action
supplier_shipped           converted_to_return (decided again by the policy as a return), withdrawn
shopify_action             done, needs_operator
needs_operator             shopify_action (a person retried), done
denied, done, withdrawn,   — (final)
converted_to_return
=========================  ===================================================================================

A request starts in ``requested``, or in ``denied`` / ``needs_approval`` when the policy says so.
Withdrawal is possible until the Shopify action starts. Every move appends to ``state_history`` and
records a ``cancellation.<state>`` timeline event; an impossible move raises
:class:`ImpossibleTransition` naming both states and what is possible.

The states that wait for a person are in front of one (``worker.alerts.follow_hand_over``): entering
``needs_approval`` or ``needs_operator`` raises its alert in the move itself (no caller can skip it), and
leaving it resolves it. In the supplier stages every paid seller nobody has asked yet has an "ask the
seller" alert (``service.ask_the_seller``) until it is asked, ships or closes, or the request moves on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import CancellationRequest
from models.cancellation import OPEN_REQUEST_STATES
from models.types import utcnow
from worker.alerts import HandOver, follow_hand_over, resolve_keyed
from worker.cancellation.errors import ImpossibleTransition
from worker.timeline import record_event

NEEDS_APPROVAL = "needs_approval"
REQUESTED = "requested"
DENIED = "denied"
SUPPLIER_CANCEL_REQUESTED = "supplier_cancel_requested"
SUPPLIER_REFUSED = "supplier_refused"
SUPPLIER_CONFIRMED = "supplier_confirmed"
SUPPLIER_SHIPPED = "supplier_shipped"
SHOPIFY_ACTION = "shopify_action"
NEEDS_OPERATOR = "needs_operator"
DONE = "done"
WITHDRAWN = "withdrawn"
CONVERTED_TO_RETURN = "converted_to_return"

#: Before the Shopify action starts: the request can still be withdrawn.
WITHDRAWABLE = frozenset({NEEDS_APPROVAL, REQUESTED, SUPPLIER_CANCEL_REQUESTED, SUPPLIER_REFUSED, SUPPLIER_SHIPPED})
TERMINAL = frozenset({DENIED, DONE, WITHDRAWN, CONVERTED_TO_RETURN})
#: Before the Shopify action, while the request follows its sellers on AliExpress.
SUPPLIER_STAGES = frozenset({REQUESTED, SUPPLIER_CANCEL_REQUESTED, SUPPLIER_REFUSED})
#: A request in one of these blocks a new request for the same order (the schema's partial unique index
#: is built from the same tuple).
OPEN = frozenset(OPEN_REQUEST_STATES)

TRANSITIONS: dict[str, frozenset[str]] = {
    NEEDS_APPROVAL: frozenset({REQUESTED, DENIED, WITHDRAWN}),
    REQUESTED: frozenset({SUPPLIER_CANCEL_REQUESTED, SUPPLIER_CONFIRMED, SUPPLIER_SHIPPED, SHOPIFY_ACTION, WITHDRAWN}),
    SUPPLIER_CANCEL_REQUESTED: frozenset({SUPPLIER_CONFIRMED, SUPPLIER_REFUSED, SUPPLIER_SHIPPED, WITHDRAWN}),
    SUPPLIER_REFUSED: frozenset({SUPPLIER_CANCEL_REQUESTED, SUPPLIER_CONFIRMED, SUPPLIER_SHIPPED, WITHDRAWN}),
    SUPPLIER_CONFIRMED: frozenset({SHOPIFY_ACTION}),
    SUPPLIER_SHIPPED: frozenset({CONVERTED_TO_RETURN, WITHDRAWN}),
    SHOPIFY_ACTION: frozenset({DONE, NEEDS_OPERATOR}),
    NEEDS_OPERATOR: frozenset({SHOPIFY_ACTION, DONE}),
    DENIED: frozenset(),
    DONE: frozenset(),
    WITHDRAWN: frozenset(),
    CONVERTED_TO_RETURN: frozenset(),
}

LABELS = {
    NEEDS_APPROVAL: "waiting for a person to approve (policy escalated)",
    REQUESTED: "requested (waiting for the seller to be asked)",
    DENIED: "denied by the policy",
    SUPPLIER_CANCEL_REQUESTED: "cancellation asked from the seller",
    SUPPLIER_REFUSED: "the seller refused to cancel",
    SUPPLIER_CONFIRMED: "the seller cancelled",
    SUPPLIER_SHIPPED: "the seller shipped",
    SHOPIFY_ACTION: "cancelling / refunding on Shopify",
    NEEDS_OPERATOR: "Shopify action handed to a person",
    DONE: "done",
    WITHDRAWN: "withdrawn",
    CONVERTED_TO_RETURN: "became a return (the goods shipped)",
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def move(
    session: Session,
    request: CancellationRequest,
    new_state: str,
    *,
    actor: str,
    why: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Move ``request`` to ``new_state`` (history + timeline); raises ``ImpossibleTransition``. Flushes."""
    old = request.state
    if not can_move(old, new_state):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, ()))) or "nothing (it is finished)"
        raise ImpossibleTransition(
            f"cancellation request {request.id} is {old} ({LABELS.get(old, old)}): it cannot become {new_state}; "
            f"from {old} it can only become {allowed}"
        )
    now = utcnow()
    request.state = new_state
    # Reassigned, not appended: JSON columns track assignment only.
    request.state_history = [
        *request.state_history,
        {"from": old, "to": new_state, "at": now.isoformat(), "actor": actor, "why": why},
    ]
    if new_state == WITHDRAWN:
        request.withdrawn_at = now
    if new_state in (DONE, CONVERTED_TO_RETURN, DENIED):
        request.completed_at = now
    session.flush()
    hand_over_alerts(session, request, old, new_state, why, actor)
    record_event(
        session,
        shop_id=request.shop_id,
        order_id=request.order_id,
        kind=f"cancellation.{new_state}",
        message=f"cancellation request {request.id}: {LABELS.get(old, old)} → {LABELS[new_state]} ({why})",
        actor=actor,
        data={"request_id": request.id, "from": old, "to": new_state, **(data or {})},
    )


def hand_over_alerts(
    session: Session, request: CancellationRequest, old: str | None, new: str, why: str, actor: str
) -> None:
    """The alerts of the states that wait for a person (``worker.alerts.follow_hand_over``); leaving
    ``supplier_refused`` also resolves the request's "open a dispute" alerts (the sweeper raises them), and
    leaving the supplier stages its "ask the seller" alerts (``service.ask_the_seller`` raises them)."""
    follow_hand_over(session, _hand_over(request), old, new, why, actor)
    why_gone = f"the cancellation request is {new} now"
    if old == SUPPLIER_REFUSED:
        resolve_keyed(session, open_dispute_prefix(request.id), actor=actor, why=why_gone)
    if old in SUPPLIER_STAGES and new not in SUPPLIER_STAGES:
        resolve_keyed(session, ask_seller_prefix(request.id), actor=actor, why=why_gone)


def ask_seller_prefix(request_id: int) -> str:
    """The keys of a request's "ask the seller" alerts: ``cancellation:ask_seller:{request}:{supplier order}``."""
    return f"cancellation:ask_seller:{request_id}:"


def _hand_over(request: CancellationRequest) -> HandOver:
    approve = f"dropsync cancel approve {request.id}, or withdraw it"
    step, label = len(request.state_history), "cancellation request"
    return HandOver("cancellation", "cancellation", label, request.id, request.shop_id, request.order_id, step, approve)


def open_dispute_prefix(request_id: int) -> str:
    """The keys of a request's "open a dispute" alerts: ``cancellation:open_dispute:{request}:{supplier order}``."""
    return f"cancellation:open_dispute:{request_id}:"
