"""A real Celery worker SIGKILLed while it delivers a notification: delivered exactly once after restart.

The local webhook receiver holds the first request; the test kills the worker's whole process group
while it waits for the answer (the receiver sees the sender gone: no acknowledgement, no delivery).
A new worker gets the unacknowledged task back (acks late), finds the claim stale, sends again, and
records it sent; nothing is sent after that, however long it runs.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import Notification
from models.types import utcnow
from tests.supplier.factories import make_order
from tests.support.receivers import HttpReceiver
from worker import outbox
from worker.alerts import AlertSpec, raise_alert
from worker.db import session_scope
from worker.runtime import ManagedProcess, worker_argv
from worker.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _worker(env: dict[str, str], log: Path) -> ManagedProcess:
    return ManagedProcess("worker", worker_argv(concurrency=1), env=env, log_path=log).start()


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-4000:] if log.exists() else ''}")


def _state(notification_id: int) -> str:
    with session_scope() as session:
        return session.get_one(Notification, notification_id).state


def test_sigkill_mid_delivery_delivers_exactly_once_after_restart(
    committed_db: Engine, database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HttpReceiver(hold_first=True).serve() as http:
        monkeypatch.setenv("DROPSYNC_NOTIFY_WEBHOOK_URL", http.url)
        get_settings.cache_clear()
        previous = outbox.set_publisher(lambda task, args: None)  # the worker gets the task from the test below
        try:
            with session_scope() as session:
                order = make_order(session)
                spec = AlertSpec(
                    shop_id=order.shop_id, order_id=order.id, supplier_order_id=None, kind="paid_without_supplier",
                    severity="warning", message=f"{order.name}: place the supplier order and link it",
                    due_at=utcnow(), dedupe_key=f"crash:{order.id}", subject=order.name,
                )  # fmt: skip
                alert = raise_alert(session, spec, utcnow(), actor="test")
                assert alert is not None
                alert_id = alert.id
        finally:
            outbox.set_publisher(previous)
        with session_scope() as session:
            notification_id = session.scalars(select(Notification.id).where(Notification.alert_id == alert_id)).one()
        env = {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "DROPSYNC_REDIS_KEY_PREFIX": f"{os.environ.get('DROPSYNC_REDIS_KEY_PREFIX', 'test:')}{tmp_path.name}:",
            "DROPSYNC_TASK_TIME_LIMIT": "6", "DROPSYNC_TASK_VISIBILITY_TIMEOUT": "8",
            "DROPSYNC_NOTIFY_STALE_SECONDS": "3", "DROPSYNC_NOTIFY_WEBHOOK_URL": http.url, "PYTHONPATH": str(ROOT),
        }  # fmt: skip
        log = tmp_path / "worker.log"
        first = _worker(env, log)
        try:
            code = f"from worker.celery_app import app; app.send_task('notify.deliver', args=[{notification_id}])"
            subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, cwd=ROOT)
            _wait(http.holding.is_set, 60, "the worker's first delivery attempt", log)
            assert _state(notification_id) == "sending"
        finally:
            first.kill()  # the whole process group, mid-request: nothing acknowledged either way
        time.sleep(1.0)
        http.released.set()
        assert http.delivered == []  # the receiver saw its sender die: no delivery
        second = _worker(env, log)
        try:
            _wait(lambda: _state(notification_id) == "sent", 90, "the delivery after restart", log)
            time.sleep(8)  # a sweep or a second redelivery would show up here
        finally:
            second.stop()
    assert len(http.attempts) == 2
    assert len(http.delivered) == 1
    assert http.delivered[0]["key"] == f"dropsync-notification-{alert_id}"
    with session_scope() as session:
        row = session.get_one(Notification, notification_id)
        assert (row.state, row.attempts) == ("sent", 2)
        assert row.sent_at is not None
        assert row.sent_at - row.created_at < dt.timedelta(minutes=2)
    get_settings.cache_clear()
