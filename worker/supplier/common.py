"""What every supplier-order function shares: the deadline context, timeline events, state transitions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import SupplierOrder
from models.types import utcnow
from worker.deadlines.calendar import BusinessCalendar, default_calendar
from worker.deadlines.rules import DeadlinePolicy
from worker.errors import UsageError
from worker.supplier import events
from worker.timeline import record_event

log = structlog.get_logger(__name__)

SUPPLIER = "aliexpress"


SUPPLIER_ORDER_ID = re.compile(r"^\d{6,24}$")


@dataclass
class Context:
    """The calendar and policy deadlines are computed with (from settings unless a caller gives them)."""

    calendar: BusinessCalendar
    policy: DeadlinePolicy

    @classmethod
    def default(cls) -> Context:
        return cls(default_calendar(), DeadlinePolicy.from_settings())


def supplier_event(
    session: Session, so: SupplierOrder, kind: str, message: str, actor: str, data: dict[str, Any] | None = None
) -> None:
    payload = {"supplier_order_id": so.supplier_order_id, **(data or {})}
    record_event(
        session,
        shop_id=so.shop_id,
        order_id=so.order_id,
        supplier_order_id=so.id,
        kind=kind,
        message=f"supplier order {so.supplier_order_id}: {message}",
        actor=actor,
        data=payload,
    )


def transition(session: Session, so: SupplierOrder, new_state: str, actor: str, why: str) -> bool:
    """Move ``so`` to ``new_state`` (timeline + hooks); False when it already is there."""
    old_state = so.status
    if old_state == new_state:
        return False
    so.status = new_state
    if new_state in st.CLOSED_STATES:
        so.next_poll_at = None  # closed orders are never polled again
    session.flush()
    supplier_event(
        session,
        so,
        "supplier.status_changed",
        f"{st.STATE_LABELS.get(old_state, old_state)} → {st.STATE_LABELS.get(new_state, new_state)} ({why})",
        actor,
        {"old_state": old_state, "new_state": new_state},
    )
    log.info(
        "supplier.status_changed", supplier_order_id=so.supplier_order_id, old=old_state, new=new_state, actor=actor
    )
    events.notify(session, so, old_state, new_state)
    return True


def as_utc(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise UsageError("times must carry a time zone")
    return at.astimezone(dt.UTC)


def resolve_context(ctx: Context | None) -> Context:
    return ctx or Context.default()


def find_supplier_order(session: Session, shop_id: int, supplier_order_id: str) -> SupplierOrder | None:
    return session.scalar(
        select(SupplierOrder).where(
            SupplierOrder.shop_id == shop_id,
            SupplierOrder.supplier == SUPPLIER,
            SupplierOrder.supplier_order_id == supplier_order_id,
        )
    )


def add_tracking(session: Session, so: SupplierOrder, numbers: Sequence[str], actor: str) -> list[str]:
    new = [n for n in dict.fromkeys(numbers) if n not in so.tracking_numbers]
    if new:
        so.tracking_numbers = [*so.tracking_numbers, *new]  # reassigned: JSON columns track assignment only
        supplier_event(session, so, "supplier.tracking_added", f"tracking {', '.join(new)}", actor, {"tracking": new})
    return new
