"""A return handed to a person: ``needs_operator`` and one alert per hand-over.

Its own module so that the cancellation executor (which runs the returns' intents too) can hand a return
over without importing the returns executor, which imports it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from models import ReturnCase, ShopifyIntent
from worker.returns import states as rs


def to_operator(session: Session, case: ReturnCase, why: str, *, actor: str = "system") -> None:
    """``needs_operator``: the move raises its ``return_needs_operator`` alert (one per hand-over,
    ``worker.alerts.follow_hand_over``), resolved when a person takes the return back."""
    rs.move(session, case, rs.NEEDS_OPERATOR, actor=actor, why=why)


def return_intent_failed(session: Session, intent: ShopifyIntent, *, actor: str = "system") -> None:
    """A return intent failed for good: its return goes to a person (called by the executor and sweeper)."""
    case = session.get(ReturnCase, intent.return_id) if intent.return_id is not None else None
    if case is not None and case.state in (rs.SHOPIFY_ACTION, rs.AWAITING_GOODS):
        to_operator(session, case, f"Shopify {intent.kind} failed: {intent.last_error}", actor=actor)
