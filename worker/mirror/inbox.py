"""The webhook inbox: store a verified delivery once, then drain it into the ledger in batches.

Storing: ``INSERT … ON CONFLICT (delivery_id) DO NOTHING`` and commit before answering 2xx, so a retry of
the same delivery is a no-op and nothing verified is lost. Draining: claim a batch of unhandled rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the work), apply their effects and set
``handled_at`` in the same transaction. A crash before the commit leaves them unhandled; they are claimed
again and applied once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from sqlalchemy import BigInteger, Connection, Table, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import Alert, WebhookDelivery
from models.types import utcnow
from worker.alerts import AlertSpec, raise_alert, resolve_alert
from worker.db import UnitOfWork
from worker.db.bulk import any_of, upsert
from worker.db.transient import run_transaction
from worker.mirror.collector import between_batches, few_collections
from worker.mirror.statistics import analyze_grown
from worker.mirror.topics import handle_deliveries
from worker.observability.metrics import INBOX_LAG_SECONDS

log = structlog.get_logger(__name__)

INBOX: Table = WebhookDelivery.__table__  # type: ignore[assignment]
#: A delivery that failed this many times is left for an operator (an alert; `dropsync inbox list --failed`).
MAX_ATTEMPTS = 5
BATCH_SIZE = 500
#: Every this many batches, the tables a burst grew get fresh planner statistics (``worker.mirror.statistics``).
STATISTICS_EVERY = 4


@dataclass(frozen=True, slots=True)
class IncomingDelivery:
    shop_id: int
    delivery_id: str
    topic: str
    body: str
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: dt.datetime | None = None


def _row(delivery: IncomingDelivery) -> dict[str, Any]:
    return {
        "shop_id": delivery.shop_id, "delivery_id": delivery.delivery_id, "topic": delivery.topic,
        "body": delivery.body, "event_id": delivery.event_id, "api_version": delivery.api_version,
        "triggered_at": delivery.triggered_at, "received_at": utcnow(), "attempts": 0,
    }  # fmt: skip


def store_deliveries(bind: Session | Connection, deliveries: Sequence[IncomingDelivery]) -> set[str]:
    """Insert many deliveries in one round trip; returns the delivery ids that were new."""
    rows = [_row(d) for d in deliveries]
    return {row[0] for row in upsert(bind, INBOX, rows, conflict=["delivery_id"], returning=["delivery_id"])}


def claim_batch(session: Session, limit: int = BATCH_SIZE) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.handled_at.is_(None), WebhookDelivery.attempts < MAX_ATTEMPTS)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def mark_handled(session: Session, deliveries: Sequence[WebhookDelivery]) -> None:
    wanted = any_of(session, WebhookDelivery.id, [d.id for d in deliveries], BigInteger)
    session.execute(
        update(WebhookDelivery)
        .where(wanted)
        .values(handled_at=utcnow(), attempts=WebhookDelivery.attempts + 1, last_error=None)
        # Not evaluated against the batch's 500 loaded rows (a tenth of a small batch's CPU): nothing
        # reads them again before the commit.
        .execution_options(synchronize_session=False)
    )


def record_failure(session: Session, delivery_id: int, error: str) -> None:
    """Count a failed attempt; at the last one the delivery is in front of a person (an alert, notified,
    listed by ``dropsync check``): nothing will take it again until ``dropsync inbox replay``."""
    row = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(attempts=WebhookDelivery.attempts + 1, last_error=error[:2000])
        .returning(WebhookDelivery.attempts, WebhookDelivery.shop_id, WebhookDelivery.topic)
    ).first()
    if row is None or row.attempts < MAX_ATTEMPTS:
        return
    message = (
        f"the {row.topic} webhook delivery {delivery_id} could not be applied after {row.attempts} attempts "
        f"({error.splitlines()[0][:300] if error else 'no error text'}): the ledger misses that change until "
        f"it is. Fix the cause, then dropsync inbox replay {delivery_id}"
    )
    spec = AlertSpec(
        shop_id=row.shop_id, order_id=None, supplier_order_id=None, kind="webhook_delivery_failed",
        severity="warning", message=message, due_at=None, dedupe_key=f"{FAILED_ALERT}{delivery_id}",
        subject=f"webhook delivery {delivery_id}", command=f"dropsync inbox replay {delivery_id}",
    )  # fmt: skip
    raise_alert(session, spec, utcnow(), actor="inbox", reopen=True)  # failed again after a replay: back


#: The dedupe key prefix of a given-up delivery's alert (``inbox:failed:{id}``).
FAILED_ALERT = "inbox:failed:"


def resolve_applied_failures(session: Session) -> int:
    """Resolve the alerts of given-up deliveries that have since been applied (replayed) or pruned; how
    many. One query while none is open (the usual case). Flushes only."""
    open_alerts = list(
        session.scalars(select(Alert).where(Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(FAILED_ALERT)))
    )
    if not open_alerts:
        return 0
    ids = {alert: int(alert.dedupe_key.removeprefix(FAILED_ALERT)) for alert in open_alerts}
    pending = set(
        session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids.values()), WebhookDelivery.handled_at.is_(None))
        )
    )
    done = [alert for alert, delivery_id in ids.items() if delivery_id not in pending]
    for alert in done:
        resolve_alert(session, alert, utcnow(), actor="inbox", why="the delivery was applied")
    return len(done)


def observe_lag(session: Session) -> float:
    oldest = session.scalar(
        select(func.min(WebhookDelivery.received_at)).where(
            WebhookDelivery.handled_at.is_(None), WebhookDelivery.attempts < MAX_ATTEMPTS
        )
    )
    lag = max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0
    INBOX_LAG_SECONDS.set(lag)
    return lag


def drain(unit_of_work: UnitOfWork, budget_seconds: float = 20.0, batch_size: int = BATCH_SIZE) -> int:
    """Apply unhandled deliveries batch by batch until none are left or the budget is spent.

    A batch is one transaction, run again when the database aborts it for another's sake (a backfill
    merging the same orders: ``run_transaction``). If it fails otherwise, its deliveries are retried one by
    one, so one poison delivery is isolated (its attempts and error recorded) instead of blocking the rest.
    Returns how many deliveries were handled.
    """
    with few_collections():
        return _drain(unit_of_work, budget_seconds, batch_size)


def _drain(unit_of_work: UnitOfWork, budget_seconds: float, batch_size: int) -> int:
    handled, batches, deadline = 0, 0, time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        try:
            count = run_transaction(unit_of_work, lambda s: _handle_batch(s, batch_size), what="inbox batch")
            if not count:
                return handled
            handled += count
            between_batches()
            batches += 1
            if batches % STATISTICS_EVERY == 0:
                _refresh_statistics(unit_of_work)
        except Exception:
            log.warning("inbox batch failed; retrying its deliveries one by one", exc_info=True)
            handled += _drain_one_by_one(unit_of_work, batch_size)
    return handled


def _refresh_statistics(unit_of_work: UnitOfWork) -> None:
    """Statistics for what the burst grew; a failure here must not send the drain into one-by-one mode."""
    try:
        with unit_of_work() as session:
            analyze_grown(session)
    except SQLAlchemyError:
        log.warning("inbox: refreshing planner statistics failed", exc_info=True)


def _handle_batch(session: Session, batch_size: int) -> int:
    """Claim, apply and mark one batch; how many deliveries it held.

    The batch (its rows, their parsed payloads) must be garbage by ``between_batches()``: still
    referenced, every object of it is traversed by the collector's pass (a quarter of a small batch's CPU).
    """
    batch = claim_batch(session, batch_size)
    if batch:
        handle_deliveries(session, batch)
        mark_handled(session, batch)
    return len(batch)


def _drain_one_by_one(unit_of_work: UnitOfWork, limit: int) -> int:
    with unit_of_work() as session:
        ids = [d.id for d in claim_batch(session, limit)]
    handled = 0
    for delivery_id in ids:
        try:
            one = partial(_handle_one, delivery_id=delivery_id)
            handled += run_transaction(unit_of_work, one, what="inbox delivery")
        except Exception as exc:
            log.error("webhook delivery failed", delivery=delivery_id, error=str(exc))
            with unit_of_work() as session:
                record_failure(session, delivery_id, f"{type(exc).__name__}: {exc}")
    return handled


def _handle_one(session: Session, delivery_id: int) -> int:
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=_lock(session))
    if delivery is None or delivery.handled_at is not None:
        return 0
    handle_deliveries(session, [delivery])
    mark_handled(session, [delivery])
    return 1


def _lock(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def prune(session: Session, now: dt.datetime, retention: dt.timedelta, limit: int = 5000) -> int:
    """Delete handled deliveries older than ``retention`` (at most ``limit`` per call). Flushes only.

    Unhandled ones stay whatever their age: they are work, or an operator's (``dropsync inbox``).
    """
    old = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.handled_at.is_not(None), WebhookDelivery.handled_at < now - retention)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    ids = list(session.scalars(old))
    if ids:
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)
