"""Writing the notifications of a new alert, in the alert's own transaction.

One ``notifications`` row per configured channel (unique per alert and channel), and one
``notify.deliver`` task message through the task outbox (published after the commit; ``outbox.relay``
and ``notify.sweep`` catch a lost publish). An alert below ``DROPSYNC_NOTIFY_MIN_SEVERITY`` stays
inside dropsync.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Alert, Notification
from models.types import utcnow
from worker import outbox
from worker.db import savepoint
from worker.settings import Settings, get_settings

DELIVER_TASK = "notify.deliver"
WEBHOOK, EMAIL = "webhook", "email"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def configured_channels(settings: Settings) -> list[str]:
    channels = []
    if settings.notify_webhook_url:
        channels.append(WEBHOOK)
    if settings.notify_email_to and settings.smtp_host:
        channels.append(EMAIL)
    return channels


def enqueue_notifications(session: Session, alert: Alert, *, again: bool = False) -> list[Notification]:
    """One pending notification per channel for ``alert`` (flushes only); none below the minimum severity.

    ``again``: the alert was reopened (its condition came back). A channel whose row was sent or gave up
    is sent again (the same row, pending with a fresh budget); one still pending or in flight will carry
    the alert as it is now.

    Delivery times are the real clock's (``utcnow``), not the alert's "now": with the shared sandbox clock
    a deadline can be days ahead of the wall clock, a retry backoff never is.
    """
    settings = get_settings()
    now = utcnow()
    if SEVERITY_RANK.get(alert.severity, 1) < SEVERITY_RANK[settings.notify_min_severity]:
        return []
    rows = []
    for channel in configured_channels(settings):
        existing = _existing(session, alert, channel) if again else None
        if existing is not None:  # looked up first: a refused insert would end SQLite's transaction
            if existing.state in ("sent", "failed"):
                # sent_at stays until the new send is recorded: it names this round (``delivery.compose``).
                existing.state, existing.attempts, existing.next_attempt_at = "pending", 0, now
                existing.claimed_at = existing.last_error = None
                session.flush()
                key = f"{DELIVER_TASK}:{existing.id}:reopened:{alert.raised_at.isoformat()}"
                outbox.enqueue(session, DELIVER_TASK, [existing.id], dedupe_key=key)
                rows.append(existing)
            continue  # still pending or in flight: it will carry the alert as it is now
        row = Notification(
            alert_id=alert.id, shop_id=alert.shop_id, channel=channel, state="pending", created_at=now,
            next_attempt_at=now,
        )  # fmt: skip
        try:
            with savepoint(session):
                session.add(row)
                session.flush()
        except IntegrityError:
            continue  # the (alert, channel) pair exists already: one delivery per raising is the rule
        outbox.enqueue(session, DELIVER_TASK, [row.id], dedupe_key=f"{DELIVER_TASK}:{row.id}")
        rows.append(row)
    return rows


def _existing(session: Session, alert: Alert, channel: str) -> Notification | None:
    query = select(Notification).where(Notification.alert_id == alert.id, Notification.channel == channel)
    return session.scalar(query)
