"""The return's state machine (``ReturnCase.state``): states, allowed moves, and the one way to move.

==============  =========================================================================================
state           next
==============  =========================================================================================
needs_approval  shopify_action (a person approves or declines), denied (an operator's return a person
                refuses before anything reached Shopify), canceled (the customer withdrew it on Shopify)
shopify_action  awaiting_goods, done, declined, canceled, needs_operator
awaiting_goods  shopify_action (goods received: ``dropsync returns received``), canceled, needs_operator
needs_operator  shopify_action (a person resumed), done, declined, canceled
done            — (refunded and closed on Shopify, or closed with nothing owed)
declined        — (declined on Shopify with the policy's reason)
denied          — (an operator's return the policy refused: nothing was sent to Shopify)
canceled        — (canceled on Shopify)
==============  =========================================================================================

``verdict`` (approve / decline) says what ``shopify_action`` carries out; the plan reads the return on
Shopify each time (``worker.returns.execution``). Every move appends to ``state_history`` and records a
``return.<state>`` timeline event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import ReturnCase
from models.types import utcnow
from worker.alerts import HandOver, follow_hand_over
from worker.errors import RefusedError
from worker.timeline import record_event

NEEDS_APPROVAL = "needs_approval"
SHOPIFY_ACTION = "shopify_action"
AWAITING_GOODS = "awaiting_goods"
NEEDS_OPERATOR = "needs_operator"
DONE = "done"
DECLINED = "declined"
DENIED = "denied"
CANCELED = "canceled"

TERMINAL = frozenset({DONE, DECLINED, DENIED, CANCELED})
OPEN = frozenset({NEEDS_APPROVAL, SHOPIFY_ACTION, AWAITING_GOODS, NEEDS_OPERATOR})

TRANSITIONS: dict[str, frozenset[str]] = {
    NEEDS_APPROVAL: frozenset({SHOPIFY_ACTION, DENIED, CANCELED}),
    SHOPIFY_ACTION: frozenset({AWAITING_GOODS, DONE, DECLINED, CANCELED, NEEDS_OPERATOR}),
    AWAITING_GOODS: frozenset({SHOPIFY_ACTION, CANCELED, NEEDS_OPERATOR}),
    NEEDS_OPERATOR: frozenset({SHOPIFY_ACTION, DONE, DECLINED, CANCELED}),
    DONE: frozenset(),
    DECLINED: frozenset(),
    DENIED: frozenset(),
    CANCELED: frozenset(),
}

LABELS = {
    NEEDS_APPROVAL: "waiting for a person to approve or decline (policy escalated)",
    SHOPIFY_ACTION: "approving / declining / refunding on Shopify",
    AWAITING_GOODS: "approved: waiting for the goods to come back",
    NEEDS_OPERATOR: "Shopify action handed to a person",
    DONE: "done",
    DECLINED: "declined",
    DENIED: "denied by the policy (nothing sent to Shopify)",
    CANCELED: "canceled on Shopify",
}


class ImpossibleReturnTransition(RefusedError):
    """The return cannot move from its state to the one asked."""


def move(
    session: Session, case: ReturnCase, new_state: str, *, actor: str, why: str, data: dict[str, Any] | None = None
) -> None:
    """Move ``case`` to ``new_state`` (history + timeline); raises ``ImpossibleReturnTransition``. Flushes."""
    old = case.state
    if new_state not in TRANSITIONS.get(old, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, ()))) or "nothing (it is finished)"
        raise ImpossibleReturnTransition(
            f"return {case.id} is {old} ({LABELS.get(old, old)}): it cannot become {new_state}; "
            f"from {old} it can only become {allowed}"
        )
    start(session, case, new_state, actor=actor, why=why, data=data, old=old)


def start(
    session: Session, case: ReturnCase, state: str, *, actor: str, why: str, data: dict[str, Any] | None = None,
    old: str | None = None,
) -> None:  # fmt: skip
    """Set the state (the first one, or a checked move) with history and a timeline event."""
    now = utcnow()
    case.state = state
    # Reassigned, not appended: JSON columns track assignment only.
    case.state_history = [*case.state_history, {"from": old, "to": state, "at": now.isoformat(), "actor": actor,
                                                "why": why}]  # fmt: skip
    if state in TERMINAL:
        case.completed_at = now
    session.flush()
    _hand_over_alerts(session, case, old, state, why, actor)
    label = f"{LABELS.get(old, old)} → {LABELS[state]}" if old else LABELS[state]
    record_event(
        session, shop_id=case.shop_id, order_id=case.order_id, kind=f"return.{state}", actor=actor,
        message=f"return {case.id}{f' ({case.name})' if case.name else ''}: {label} ({why})",
        data={"return_id": case.id, "from": old, "to": state, **(data or {})},
    )  # fmt: skip


def _hand_over_alerts(session: Session, case: ReturnCase, old: str | None, new: str, why: str, actor: str) -> None:
    """The alerts of the states that wait for a person (``worker.alerts.follow_hand_over``)."""
    approve = f"dropsync returns approve {case.id}, or decline it"
    step = len(case.state_history)
    move = HandOver("returns", "return", "return", case.id, case.shop_id, case.order_id, step, approve)
    follow_hand_over(session, move, old, new, why, actor)
