"""Delivering one notification: claim (committed), send, record (committed). Never twice once sent.

Failure modes, each handled:

- the worker dies after the claim, before or during the send: the row stays ``sending``; once its
  claim is older than ``DROPSYNC_NOTIFY_STALE_SECONDS`` the redelivered task (acks late) or the sweeper
  takes it again. The receiver got nothing, or an attempt it never acknowledged on a live connection.
- the send succeeds and the worker dies before recording it: the one case delivered twice; both carry
  the same key (``Idempotency-Key`` header, ``Message-ID``) for the receiver to recognise.
- the channel refuses or is down: ``pending`` again with an exponential backoff (30 s doubling, at most
  1 h), ``failed`` after ``DROPSYNC_NOTIFY_MAX_ATTEMPTS`` (a log line and a timeline event).
- two workers get the same message: the claim is a row lock plus a state check; one sends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Alert, Notification, Order, Shop
from worker.db import UnitOfWork
from worker.notify.channels import SENDERS, DeliveryFailed, Message
from worker.settings import Settings
from worker.timeline import record_event

log = structlog.get_logger(__name__)

Sender = Callable[[Settings, Message], None]
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    """``sent``, ``retry`` (with ``retry_in``), ``failed``, ``in_flight`` (with ``retry_in``) or ``done``."""

    state: str
    retry_in: float | None = None


def backoff(attempts: int) -> dt.timedelta:
    wait: dt.timedelta = BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 16))
    return min(wait, BACKOFF_MAX)


def compose(session: Session, alert: Alert, sent_before: dt.datetime | None = None) -> Message:
    """The text a person reads: which shop and order, what is wrong, by when, and the command.

    ``sent_before``: the alert was delivered on this channel before and came back (reopened): the message
    gets a key of its own (a receiver that deduplicates on it must not drop it), stable until it is sent.
    """
    order = session.get(Order, alert.order_id) if alert.order_id else None
    shop = session.get(Shop, alert.shop_id)
    where = " ".join(x for x in ((shop.domain if shop else None), (order.name if order else None)) if x)
    subject = f"[dropsync {alert.severity}] {where}: {alert.kind.replace('_', ' ')}"
    lines = [alert.message]
    if alert.due_at is not None:
        lines.append(f"due: {alert.due_at:%Y-%m-%d %H:%M} UTC")
    if alert.command:
        lines.append(f"do: {alert.command}")
    key = f"dropsync-notification-{alert.id}"
    if sent_before is not None:
        key, subject = f"{key}-{sent_before:%Y%m%dT%H%M%S%f}", f"{subject} (again)"
    return Message(subject, "\n".join(lines), key=key)


def _claim(session: Session, notification_id: int, now: dt.datetime, stale: dt.timedelta) -> Notification | Outcome:
    query = select(Notification).where(Notification.id == notification_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or row.state in ("sent", "failed"):
        return Outcome("done")
    if row.state == "sending" and row.claimed_at is not None and row.claimed_at > now - stale:
        # Another worker is sending it (or one died moments ago): look again once that claim is stale.
        return Outcome("in_flight", (row.claimed_at + stale - now).total_seconds() + 0.5)
    if row.state == "pending" and row.next_attempt_at is not None and row.next_attempt_at > now:
        return Outcome("retry", (row.next_attempt_at - now).total_seconds())
    row.state, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
    session.flush()
    return row


def deliver(
    session_factory: UnitOfWork,
    notification_id: int,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    senders: dict[str, Sender] | None = None,
) -> Outcome:
    """Claim, send, record; each step in its own transaction (the send happens outside any)."""
    stale = dt.timedelta(seconds=settings.notify_stale_seconds)
    with session_factory() as session:
        claimed = _claim(session, notification_id, clock(), stale)
        if isinstance(claimed, Outcome):
            return claimed
        channel = claimed.channel
        message = compose(session, session.get_one(Alert, claimed.alert_id), claimed.sent_at)
    try:
        (senders or SENDERS)[channel](settings, message)
    except DeliveryFailed as exc:
        with session_factory() as session:
            return _failed(session, notification_id, str(exc), clock(), settings.notify_max_attempts)
    with session_factory() as session:
        row = session.get_one(Notification, notification_id)
        row.state, row.sent_at, row.last_error = "sent", clock(), None
        log.info("notification.sent", notification_id=row.id, alert_id=row.alert_id, channel=channel)
    return Outcome("sent")


def _failed(session: Session, notification_id: int, error: str, now: dt.datetime, max_attempts: int) -> Outcome:
    row = session.get_one(Notification, notification_id)
    row.last_error = error
    if row.attempts >= max_attempts:
        row.state, row.next_attempt_at = "failed", None
        alert = session.get_one(Alert, row.alert_id)
        log.error("notification.failed", notification_id=row.id, channel=row.channel, error=error)
        record_event(
            session, shop_id=alert.shop_id, order_id=alert.order_id, kind="notification.failed", actor="notify",
            message=f"the {row.channel} notification of alert {alert.id} failed {row.attempts} times: {error}",
            data={"alert_id": alert.id, "notification_id": row.id},
        )  # fmt: skip
        return Outcome("failed")
    wait = backoff(row.attempts)
    row.state, row.next_attempt_at = "pending", now + wait
    log.warning("notification.retry", notification_id=row.id, channel=row.channel, error=error, attempts=row.attempts)
    return Outcome("retry", wait.total_seconds())


def due_for_delivery(session: Session, now: dt.datetime, stale: dt.timedelta, limit: int = 200) -> list[int]:
    """Notifications whose message may be lost: pending and due, or claimed by a worker that died."""
    query = (
        select(Notification.id)
        .where(
            or_(
                (Notification.state == "pending") & (Notification.next_attempt_at <= now),
                (Notification.state == "sending") & (Notification.claimed_at <= now - stale),
            )
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(session.scalars(query))
