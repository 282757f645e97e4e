"""The append-only per-order timeline: every transition, poll finding and operator action lands here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import TimelineEvent
from models.types import utcnow


def record_event(
    session: Session,
    *,
    shop_id: int,
    kind: str,
    message: str,
    order_id: int | None = None,
    supplier_order_id: int | None = None,
    actor: str = "system",
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append one event (flushes, never commits). ``actor``: system, webhook, poller, operator:NAME…"""
    event = TimelineEvent(
        shop_id=shop_id,
        order_id=order_id,
        supplier_order_id=supplier_order_id,
        kind=kind,
        message=message,
        actor=actor,
        data=data or {},
        occurred_at=utcnow(),
    )
    session.add(event)
    session.flush()
    return event
