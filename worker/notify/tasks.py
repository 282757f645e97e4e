"""Notification tasks: deliver one (ids only), and the sweeper for lost or due messages."""

from __future__ import annotations

import datetime as dt

from models.types import utcnow
from worker.celery_app import app
from worker.db import session_scope
from worker.notify.delivery import deliver as deliver_notification
from worker.notify.delivery import due_for_delivery
from worker.notify.outbox import DELIVER_TASK
from worker.settings import get_settings


@app.task(name=DELIVER_TASK)
def deliver(notification_id: int) -> str:
    """Deliver one notification; a retry or an in-flight claim schedules this task again."""
    outcome = deliver_notification(session_scope, notification_id, get_settings(), utcnow)
    if outcome.retry_in is not None:
        app.send_task(DELIVER_TASK, args=[notification_id], countdown=outcome.retry_in)
    return outcome.state


@app.task(name="notify.sweep")
def sweep() -> int:
    """Publish every notification due again or abandoned by a dead worker (beat)."""
    with session_scope() as session:
        ids = due_for_delivery(session, utcnow(), dt.timedelta(seconds=get_settings().notify_stale_seconds))
    for notification_id in ids:
        app.send_task(DELIVER_TASK, args=[notification_id])
    return len(ids)
