"""Polling supplier orders that can still change, sooner when a deadline is near.

- ``claim_due`` takes up to N orders whose ``next_poll_at`` has come and leases them (``next_poll_at``
  moved a few minutes ahead, in a short transaction of its own; ``SKIP LOCKED`` on PostgreSQL), so two
  overlapping beat ticks or workers never poll the same order twice.
- ``poll_supplier_order`` reads one order and applies it; a gateway failure (malformed response,
  unknown order, expired token, outage) is recorded (timeline once per distinct error, log, metric,
  ``last_poll_error``), backed off, and never raised: the caller moves on to the next order.
- ``next_poll_at`` afterwards: NULL for closed orders (never polled again), else the interval of the
  state, shortened to 10 min / 30 min / 2 h when a deadline is passed-or-within-6 h / 24 h / 3 days.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from integrations.aliexpress.client import AliExpressClient
from integrations.aliexpress.errors import AliExpressError, MalformedResponse, UnknownOrder
from integrations.aliexpress.models import RemoteOrder
from models import SupplierOrder
from worker.db import UnitOfWork
from worker.observability.metrics import SUPPLIER_POLLS
from worker.supplier.service import Context, apply_observation, supplier_event

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=5)
STATE_INTERVALS = {
    st.AWAITING_PAYMENT: dt.timedelta(hours=1),
    st.RISK_CHECK: dt.timedelta(hours=1),
    st.AWAITING_SHIPMENT: dt.timedelta(hours=3),
    st.CANCELLATION_REQUESTED: dt.timedelta(minutes=30),
    st.PARTLY_SHIPPED: dt.timedelta(hours=6),
    st.SHIPPED: dt.timedelta(hours=6),
    st.DELIVERED: dt.timedelta(hours=6),
    st.IN_DISPUTE: dt.timedelta(hours=3),
    st.UNKNOWN: dt.timedelta(hours=1),
}
URGENCY = (
    (dt.timedelta(hours=6), dt.timedelta(minutes=10)),
    (dt.timedelta(hours=24), dt.timedelta(minutes=30)),
    (dt.timedelta(days=3), dt.timedelta(hours=2)),
)
MAX_BACKOFF = dt.timedelta(hours=3)


def _deadlines(so: SupplierOrder) -> list[dt.datetime]:
    values = [
        so.handling_deadline if so.status in (st.RISK_CHECK, st.AWAITING_SHIPMENT) else None,
        so.seller_silence_deadline if so.status == st.CANCELLATION_REQUESTED else None,
        so.tracking_due_at,
        so.protection_ends_at if so.status in (st.SHIPPED, st.PARTLY_SHIPPED) else None,
    ]
    return [v for v in values if v is not None]


def next_poll_time(so: SupplierOrder, now: dt.datetime) -> dt.datetime | None:
    """When to look again: never for closed orders; sooner the nearer its nearest deadline."""
    if so.status in st.CLOSED_STATES:
        return None
    interval = STATE_INTERVALS.get(so.status, dt.timedelta(hours=1))
    deadlines = _deadlines(so)
    if deadlines:
        until = min(deadlines) - now
        for within, sooner in URGENCY:
            if until <= within:
                interval = min(interval, sooner)
                break
    return now + interval


def backoff(failures: int) -> dt.timedelta:
    step: dt.timedelta = dt.timedelta(minutes=5) * (2 ** min(max(failures - 1, 0), 10))
    return min(step, MAX_BACKOFF)


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[int]:
    """Lease up to ``limit`` due supplier orders (most overdue first); the caller commits the lease."""
    query = (
        select(SupplierOrder)
        .where(SupplierOrder.next_poll_at.is_not(None), SupplierOrder.next_poll_at <= now)
        .order_by(SupplierOrder.next_poll_at, SupplierOrder.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    orders = list(session.scalars(query))
    for so in orders:
        so.next_poll_at = now + LEASE  # if the poll dies, the order comes back after the lease
    session.flush()
    return [so.id for so in orders]


@dataclass
class PollOutcome:
    outcome: str  # ok | changed | unknown | error | malformed
    error: str | None = None


def fetch(client: AliExpressClient, supplier_order_id: str) -> RemoteOrder | AliExpressError:
    """Read one order from the gateway; a gateway failure is returned, not raised."""
    try:
        return client.get_order(supplier_order_id)
    except AliExpressError as exc:
        return exc


def record_poll(
    session: Session,
    so: SupplierOrder,
    result: RemoteOrder | AliExpressError,
    now: dt.datetime,
    *,
    ctx: Context | None = None,
) -> PollOutcome:
    """Record what one poll found (the observation, or why the order could not be read)."""
    if isinstance(result, AliExpressError):
        return _failed(session, so, result, now)
    observation = apply_observation(session, so, result, now, ctx=ctx)
    so.last_polled_at, so.poll_failures, so.last_poll_error = now, 0, None
    so.next_poll_at = next_poll_time(so, now)
    outcome = "unknown" if observation.unknown else ("changed" if observation.changed else "ok")
    SUPPLIER_POLLS.labels(so.supplier, outcome).inc()
    session.flush()
    return PollOutcome(outcome)


def poll_supplier_order(
    session: Session, so: SupplierOrder, client: AliExpressClient, now: dt.datetime, *, ctx: Context | None = None
) -> PollOutcome:
    """Poll one supplier order and record what changed (or why it could not be read). Never raises
    for a gateway failure."""
    return record_poll(session, so, fetch(client, so.supplier_order_id), now, ctx=ctx)


def _failed(session: Session, so: SupplierOrder, exc: AliExpressError, now: dt.datetime) -> PollOutcome:
    outcome = "malformed" if isinstance(exc, MalformedResponse) else "error"
    message = f"{type(exc).__name__}: {exc}"
    log.warning(
        "supplier.poll_failed", supplier_order_id=so.supplier_order_id, error=message, failures=so.poll_failures + 1
    )
    if message != so.last_poll_error:
        # Recorded once per distinct error: a gateway down for a day must not flood the timeline.
        hint = " (check the order number)" if isinstance(exc, UnknownOrder) else ""
        supplier_event(
            session,
            so,
            "supplier.poll_failed",
            f"could not read the order: {message}{hint}",
            "poller",
            {"error": message, "code": exc.code},
        )
    so.poll_failures += 1
    so.last_poll_error = message
    so.last_polled_at = now
    so.next_poll_at = now + backoff(so.poll_failures)
    SUPPLIER_POLLS.labels(so.supplier, outcome).inc()
    session.flush()
    return PollOutcome(outcome, message)


@dataclass
class PollSummary:
    polled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.polled += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def poll_due(
    session_factory: UnitOfWork,
    client: AliExpressClient,
    now: Callable[[], dt.datetime],
    limit: int,
    *,
    ctx: Context | None = None,
    budget_seconds: float | None = None,
) -> PollSummary:
    """Claim the due orders, then poll each: the gateway is read outside any transaction, what it said
    is recorded in a transaction of its own. One order's crash (a bug, a database error) is logged
    and counted; the others are still polled, and the crashed one comes back when its lease expires.
    Past ``budget_seconds`` the run stops early (a slow gateway must not reach the task's time limit);
    the orders it did not reach come back when their lease expires."""
    started = time.monotonic()
    with session_factory() as session:
        ids = claim_due(session, now(), limit)
    summary = PollSummary()
    for position, supplier_order_id in enumerate(ids):
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            log.warning("supplier.poll_budget_spent", polled=position, left=len(ids) - position)
            break
        try:
            summary.count(_poll_one(session_factory, client, now, supplier_order_id, ctx))
        except Exception:
            log.exception("supplier.poll_crashed", supplier_order_id=supplier_order_id)
            SUPPLIER_POLLS.labels("aliexpress", "error").inc()
            summary.count("crashed")
    return summary


def _poll_one(
    session_factory: UnitOfWork,
    client: AliExpressClient,
    now: Callable[[], dt.datetime],
    supplier_order_id: int,
    ctx: Context | None,
) -> str:
    with session_factory() as session:
        so = session.get(SupplierOrder, supplier_order_id)
        if so is None:
            return "missing"
        remote_id = so.supplier_order_id
    result = fetch(client, remote_id)  # no transaction (nor row lock) held across the network call
    with session_factory() as session:
        so = session.get(SupplierOrder, supplier_order_id)
        if so is None:
            return "missing"
        return record_poll(session, so, result, now(), ctx=ctx).outcome
