"""The append-only per-order timeline: every transition, poll finding and operator action lands here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
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


#: Tries at planning a Shopify step (the reads and the computed input) before the request or return goes
#: to a person: its sweeper sends it round again every minute, so ~5 minutes of a read Shopify refuses.
PLANNING_TRIES = 5


def planning_failed(
    session: Session, *, shop_id: int, order_id: int, subject: str, since: dt.datetime | None, error: Exception,
    final: bool = False,
) -> str | None:  # fmt: skip
    """Record that the next Shopify step of ``subject`` ("return 7") could not be planned; the reason to
    give a person when it is time to hand it over (the ``PLANNING_TRIES``-th try since ``since``, the
    moment it entered its action state; or at once when ``final``: no retry can help), else None."""
    shown = str(error).splitlines()[0][:500]
    prefix = f"{subject}: "
    query = select(func.count()).select_from(TimelineEvent).where(
        TimelineEvent.order_id == order_id, TimelineEvent.kind == "planning_failed",
        TimelineEvent.message.startswith(prefix), *([TimelineEvent.occurred_at >= since] if since else []),
    )  # fmt: skip
    tries = max(int(session.scalar(query) or 0) + 1, PLANNING_TRIES if final else 0)
    attempt = "no retry can help" if final else f"try {tries} of {PLANNING_TRIES}"
    record_event(
        session, shop_id=shop_id, order_id=order_id, kind="planning_failed", actor="system",
        message=f"{prefix}the next Shopify step could not be planned ({attempt}): {shown}", data={"tries": tries},
    )  # fmt: skip
    if tries < PLANNING_TRIES:
        return None
    return shown if final else f"the next Shopify step could not be planned after {tries} tries: {shown}"


def entered_at(state_history: list[dict[str, Any]]) -> dt.datetime | None:
    """When the last state of a request's or return's history began."""
    return dt.datetime.fromisoformat(state_history[-1]["at"]) if state_history else None
