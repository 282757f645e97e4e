"""Shopify intents: one persisted row per external mutation, committed before its first attempt.

Lifecycle (``ShopifyIntent.state``)::

    pending ──claim──▶ submitting ──Shopify answered──▶ succeeded | failed
                          │  └─lost verdict (timeout, dropped response, 5xx)─▶ unknown ──claim──▶ submitting…
                          └─provably not applied (never sent, throttled, refused before running)─▶ pending

Rules:

- the idempotency key is minted with the row and reused on every attempt (refundCreate's
  ``@idempotent`` returns the original refund for a resent key);
- at most one *live* intent per (order, kind): the partial unique index refuses a second one, so two
  workers can never both start a cancel or a refund for the same order;
- an intent claimed while ``submitting`` or ``unknown`` (a crash or a lost verdict before) is
  *read first*: the executor looks at Shopify and adopts an effect already there before acting;
- after ``MAX_ATTEMPTS`` the sweeper stops retrying: ``failed`` + an alert, a person decides
  (``dropsync intents retry|resolve``).

Liveness (the invariant the sweeper keeps): a live intent is always either due for a retry that will
really be published, or failed and in front of a person with an alert. Each retry message the sweeper
sends is a *dispatch* holding a lease (``next_attempt_at`` pushed ``dispatch_lease()`` ahead); a message
lost on the way (Redis restarted without persistence, a worker killed holding it) leaves the intent
unclaimed past its lease, so it is due again and another message goes out. ``MAX_DISPATCHES`` sends
without an outcome also hand it to a person: a retry can be lost, never silently. An intent whose due
time passed by more than ``OVERDUE_GRACE`` (the sweeper is not running, or cannot keep up) is
*overdue*: ``intents list-stuck`` and ``deadlines`` show it at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Alert, IntentState, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
from models.types import utcnow
from worker.alerts import raise_order_alert, resolve_alert
from worker.cancellation.errors import IntentNotFound, IntentStateError
from worker.db import savepoint
from worker.timeline import record_event


class IntentKind(StrEnum):
    """``ShopifyIntent.kind``: the Shopify mutation an intent performs (stored as these strings). What each
    one does is ``worker.cancellation.actions.PERFORMERS``."""

    # The cancellation workflow (worker.cancellation.execution)
    ORDER_CANCEL = "order_cancel"
    REFUND_CREATE = "refund_create"
    FULFILLMENT_ORDER_CANCEL = "fulfillment_order_cancel"
    CANCELLATION_REQUEST = "fulfillment_order_cancellation_request"
    # The returns workflow (worker.returns.execution)
    RETURN_CREATE = "return_create"
    RETURN_APPROVE = "return_approve"
    RETURN_DECLINE = "return_decline"
    RETURN_PROCESS = "return_process"
    RETURN_CLOSE = "return_close"
    # Chargeback evidence (worker.chargebacks.submission)
    DISPUTE_EVIDENCE_UPDATE = "dispute_evidence_update"


MAX_ATTEMPTS = 6
#: Retry messages sent without an outcome before a person is asked (each lost one costs a lease).
MAX_DISPATCHES = 2 * MAX_ATTEMPTS
#: Past due by more than this (four sweeper periods) means nothing is retrying it: shown as overdue.
OVERDUE_GRACE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    """What Shopify answered: ids it created, the job it started, the order as read after (if read)."""

    result_ids: list[str]
    job_gid: str | None = None
    order_node: dict[str, Any] | None = None


def refund_marker(intent: ShopifyIntent) -> str:
    """Put in the refund's note: how a refund created by this intent is recognised on the order."""
    return f"[{intent.idempotency_key}]"


def stale_submitting() -> dt.timedelta:
    """A ``submitting`` intent older than this was abandoned by a dead worker: it may be reclaimed
    (``DROPSYNC_INTENT_STALE_SECONDS``; must exceed the longest Shopify call, job polling included)."""
    from worker.settings import get_settings

    return dt.timedelta(seconds=int(get_settings().intent_stale_seconds))


def dispatch_lease() -> dt.timedelta:
    """How long a published retry message may take to be claimed before it counts as lost
    (``DROPSYNC_INTENT_DISPATCH_LEASE_SECONDS``)."""
    from worker.settings import get_settings

    return dt.timedelta(seconds=int(get_settings().intent_dispatch_lease_seconds))


BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(minutes=30)


def new_key(kind: IntentKind) -> str:
    return f"dropsync-{kind}-{uuid.uuid4().hex}"


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s… capped at 30 min (attempts = how many were made so far)."""
    delay: dt.timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


def live_intent(session: Session, order_id: int, kind: IntentKind | None = None) -> ShopifyIntent | None:
    query = select(ShopifyIntent).where(ShopifyIntent.order_id == order_id, ShopifyIntent.state.in_(LIVE_INTENT_STATES))
    if kind is not None:
        query = query.where(ShopifyIntent.kind == kind)
    return session.scalars(query.order_by(ShopifyIntent.id)).first()


def create_intent(
    session: Session,
    *,
    shop_id: int,
    order_id: int,
    kind: IntentKind,
    params: dict[str, Any],
    request_id: int | None,
    key: str | None = None,
    actor: str = "system",
    return_id: int | None = None,
) -> tuple[ShopifyIntent, bool]:
    """The live intent of (order, kind): a new ``pending`` one, or the one already live (``created`` False).

    The caller commits before the first attempt: the key must be durable before Shopify ever sees it.
    """
    existing = live_intent(session, order_id, kind)
    if existing is not None:
        return existing, False
    intent = ShopifyIntent(
        shop_id=shop_id, order_id=order_id, cancellation_request_id=request_id, return_id=return_id, kind=kind,
        params=params,
        idempotency_key=key or new_key(kind), state=IntentState.PENDING, attempts=0, result_ids=[],
    )  # fmt: skip
    try:
        with savepoint(session):
            session.add(intent)
            session.flush()
    except IntegrityError:
        if session.get_bind().dialect.name == "sqlite":
            raise  # no savepoint there: the transaction is gone; the caller's boundary retries
        # Another transaction created the live intent of this (order, kind) first: use that one.
        found = live_intent(session, order_id, kind)
        if found is None:
            raise
        return found, False
    record_event(
        session, shop_id=shop_id, order_id=order_id, kind="intent.created", actor=actor,
        message=f"Shopify {kind} intent {intent.id} created (key {intent.idempotency_key})",
        data={"intent_id": intent.id, "kind": kind, "request_id": request_id, "return_id": return_id},
    )  # fmt: skip
    return intent, True


def get_intent(session: Session, intent_id: int, *, lock: bool = False) -> ShopifyIntent:
    query = select(ShopifyIntent).where(ShopifyIntent.id == intent_id)
    if lock:
        query = query.with_for_update()
    intent = session.scalar(query)
    if intent is None:
        raise IntentNotFound(f"unknown intent {intent_id}")
    return intent


def _event(session: Session, intent: ShopifyIntent, kind: str, message: str, actor: str, **data: Any) -> None:
    record_event(
        session, shop_id=intent.shop_id, order_id=intent.order_id, kind=kind, actor=actor,
        message=f"Shopify {intent.kind} intent {intent.id}: {message}",
        data={"intent_id": intent.id, "attempts": intent.attempts, **data},
    )  # fmt: skip


def mark_succeeded(
    session: Session, intent: ShopifyIntent, result_ids: list[str], *, actor: str, how: str, job_gid: str | None = None
) -> bool:
    """Terminal success (``how``: applied, adopted, webhook…). False if it was already terminal."""
    if intent.state not in LIVE_INTENT_STATES:
        return False
    intent.state = IntentState.SUCCEEDED
    intent.completed_at = utcnow()
    intent.next_attempt_at = None
    intent.result_ids = sorted(set(intent.result_ids) | set(result_ids))
    if job_gid:
        intent.job_gid = job_gid
    session.flush()
    _event(session, intent, "intent.succeeded", f"succeeded ({how})", actor, how=how, result_ids=intent.result_ids)
    return True


def mark_unknown(session: Session, intent: ShopifyIntent, error: str, *, job_gid: str | None = None) -> None:
    """The verdict was lost: Shopify may have applied it. Read before any retry."""
    if intent.state not in LIVE_INTENT_STATES:
        return
    intent.state = IntentState.UNKNOWN
    intent.last_error = error[:2000]
    intent.next_attempt_at = utcnow() + backoff(intent.attempts)
    if job_gid:
        intent.job_gid = job_gid
    session.flush()
    _event(session, intent, "intent.unknown", f"outcome unknown, Shopify is read before retrying: {error}", "system")


def mark_retry(session: Session, intent: ShopifyIntent, error: str) -> None:
    """Provably not applied (never sent, throttled, refused before running): back to pending, later."""
    if intent.state not in LIVE_INTENT_STATES:
        return
    intent.state = IntentState.PENDING if intent.state == IntentState.SUBMITTING else intent.state
    intent.last_error = error[:2000]
    intent.next_attempt_at = utcnow() + backoff(intent.attempts)
    session.flush()
    _event(session, intent, "intent.retry_later", f"not applied, retried later: {error}", "system")


def mark_failed(session: Session, intent: ShopifyIntent, error: str, *, actor: str = "system") -> bool:
    """Terminal: a person decides. Raises an alert (once per intent)."""
    if intent.state not in LIVE_INTENT_STATES:
        return False
    intent.state = IntentState.FAILED
    intent.last_error = error[:2000]
    intent.completed_at = utcnow()
    intent.next_attempt_at = None
    session.flush()
    _event(session, intent, "intent.failed", f"failed, handed to a person: {error}", actor)
    raise_order_alert(
        session, shop_id=intent.shop_id, order_id=intent.order_id, kind="intent_failed", severity="critical",
        key=failed_alert_key(intent), actor="cancellation", reopen=True,  # failed again after a person's retry
        message=f"Shopify {intent.kind} intent {intent.id} failed after {intent.attempts} attempt(s): {error}",
    )  # fmt: skip
    return True


def failed_alert_key(intent: ShopifyIntent) -> str:
    return f"cancellation:intent_failed:{intent.id}"


def operator_retry(session: Session, intent_id: int, actor: str) -> ShopifyIntent:
    """A person sends a failed (or stuck) intent round again. It is read first, like any retried intent.

    Refused for a succeeded intent (the effect exists) and when another live intent of the same
    (order, kind) exists (the unique index would refuse it anyway). A failed intent gets a fresh budget
    of attempts and retry messages (the spent ones are on the timeline): with the old counts the sweeper
    failed it again on its next pass, before any worker had taken the person's message. The caller
    publishes that message; the sweeper sends another only if it is not taken within the dispatch lease.
    """
    intent = get_intent(session, intent_id, lock=True)
    if intent.state == IntentState.SUCCEEDED:
        raise IntentStateError(f"intent {intent.id} succeeded: there is nothing to retry")
    spent = ""
    if intent.state == IntentState.FAILED:
        other = live_intent(session, intent.order_id, IntentKind(intent.kind))
        if other is not None:
            raise IntentStateError(f"intent {other.id} of the same order and kind is live: retry that one")
        # Back to unknown (not pending): a failed intent may have been applied; read Shopify first.
        intent.state = IntentState.UNKNOWN
        intent.completed_at = None
        spent = f"; after {intent.attempts} attempt(s) and {intent.dispatches} retry message(s), a fresh budget"
        intent.attempts, intent.dispatches = 0, 0
        _resolve_failed_alert(session, intent, actor=actor, why=f"intent {intent.id} retried by a person")
    intent.next_attempt_at = utcnow() + dispatch_lease()
    session.flush()
    _event(session, intent, "intent.operator_retry", f"retried by a person (Shopify is read first){spent}", actor)
    return intent


def _resolve_failed_alert(session: Session, intent: ShopifyIntent, *, actor: str, why: str) -> None:
    alert = session.scalar(select(Alert).where(Alert.dedupe_key == failed_alert_key(intent)))
    if alert is not None:
        resolve_alert(session, alert, utcnow(), actor=actor, why=why)


def operator_resolve(session: Session, intent_id: int, outcome: str, actor: str, note: str | None) -> ShopifyIntent:
    """A person checked Shopify and records the outcome (``succeeded`` or ``failed``) of a non-succeeded intent.

    A failed intent resolved ``succeeded`` is finished: its ``intent_failed`` alert is resolved (the caller
    carries its request on). One resolved ``failed`` is the caller's to hand over (its request goes to a
    person, with that hand-over's alert)."""
    if outcome not in (IntentState.SUCCEEDED, IntentState.FAILED):
        raise IntentStateError(f"--as must be succeeded or failed, not {outcome!r}")
    intent = get_intent(session, intent_id, lock=True)
    if intent.state == IntentState.SUCCEEDED:
        raise IntentStateError(f"intent {intent.id} already succeeded")
    if intent.state == outcome:
        raise IntentStateError(f"intent {intent.id} is already {outcome}")
    intent.state = IntentState(outcome)
    intent.completed_at = utcnow()
    intent.next_attempt_at = None
    intent.last_error = f"resolved by {actor}: {note}" if note else f"resolved by {actor}"
    session.flush()
    _event(
        session, intent, "intent.operator_resolved", f"resolved as {outcome} by a person ({note or 'no note'})", actor
    )
    if outcome == IntentState.SUCCEEDED:
        _resolve_failed_alert(session, intent, actor=actor, why=f"intent {intent.id} resolved as succeeded by a person")
    return intent


def stuck_intents(session: Session, now: dt.datetime, older_than: dt.timedelta) -> list[ShopifyIntent]:
    """Failed intents, live ones not finished ``older_than`` after creation, and overdue ones whatever
    their age (see :func:`overdue_intents`), oldest first."""
    query = select(ShopifyIntent).where(
        (ShopifyIntent.state == IntentState.FAILED)
        | (ShopifyIntent.state.in_(LIVE_INTENT_STATES) & (ShopifyIntent.created_at <= now - older_than))
        | _due_clause(now - OVERDUE_GRACE)
    )
    return list(session.scalars(query.order_by(ShopifyIntent.created_at, ShopifyIntent.id)))


def _due_clause(at: dt.datetime) -> Any:
    """Live and due at ``at``: pending/unknown whose retry time (or dispatch lease) passed, or
    ``submitting`` abandoned (stale claim) with no dispatch lease running."""
    lease_over = ShopifyIntent.next_attempt_at.is_(None) | (ShopifyIntent.next_attempt_at <= at)
    stale = ShopifyIntent.submitted_at <= at - stale_submitting()
    abandoned = (ShopifyIntent.state == IntentState.SUBMITTING) & stale
    return (ShopifyIntent.state.in_((IntentState.PENDING, IntentState.UNKNOWN)) & lease_over) | (abandoned & lease_over)


def due_intents(session: Session, now: dt.datetime, limit: int = 200) -> list[ShopifyIntent]:
    """Live intents the sweeper should (re)run now, oldest due first."""
    query = select(ShopifyIntent).where(_due_clause(now))
    return list(session.scalars(query.order_by(ShopifyIntent.id).limit(limit)))


def overdue_intents(session: Session, now: dt.datetime) -> list[ShopifyIntent]:
    """Live intents due for longer than ``OVERDUE_GRACE``: nothing is retrying them (no beat, a backlog)."""
    query = select(ShopifyIntent).where(_due_clause(now - OVERDUE_GRACE))
    return list(session.scalars(query.order_by(ShopifyIntent.created_at, ShopifyIntent.id)))
