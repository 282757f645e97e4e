"""Alerts delivered outside dropsync: a Slack-compatible webhook and e-mail, once each, secrets never shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from models import Alert, Notification, TimelineEvent
from models.types import utcnow
from tests.supplier.factories import make_order
from tests.support.receivers import HttpReceiver, SmtpReceiver
from worker.alerts import AlertSpec, raise_alert
from worker.db import session_scope
from worker.notify.channels import SENDERS
from worker.notify.delivery import deliver, due_for_delivery
from worker.settings import get_settings


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    with HttpReceiver().serve() as http, SmtpReceiver().serve() as smtp:
        monkeypatch.setenv("DROPSYNC_NOTIFY_WEBHOOK_URL", http.url)
        monkeypatch.setenv("DROPSYNC_NOTIFY_EMAIL_TO", "ops@example.com")
        monkeypatch.setenv("DROPSYNC_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("DROPSYNC_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("DROPSYNC_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        yield http, smtp
    get_settings.cache_clear()


def _raise(severity: str = "critical") -> tuple[int, str]:
    with session_scope() as session:
        order = make_order(session)
        spec = AlertSpec(
            shop_id=order.shop_id, order_id=order.id, supplier_order_id=None, kind="shopify_cancelled_supplier_live",
            severity=severity, message=f"{order.name} is cancelled in Shopify: ask the seller to cancel",
            due_at=utcnow() + dt.timedelta(days=2), dedupe_key=f"test:{order.id}", subject=order.name,
            command=f"dropsync supplier cancel-requested '{order.name}'",
        )  # fmt: skip
        alert = raise_alert(session, spec, utcnow(), actor="test")
        assert alert is not None
        return alert.id, order.name


def _notifications(alert_id: int) -> dict[str, Notification]:
    with session_scope() as session:
        rows = session.scalars(select(Notification).where(Notification.alert_id == alert_id)).all()
        return {n.channel: n for n in rows}


def test_an_alert_is_delivered_once_by_webhook_and_by_email(
    committed_db: Engine, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = receivers
    alert_id, name = _raise()
    rows = _notifications(alert_id)
    assert set(rows) == {"webhook", "email"}  # written with the alert, in its transaction
    for row in rows.values():
        assert deliver(session_scope, row.id, get_settings(), utcnow).state == "sent"
        assert deliver(session_scope, row.id, get_settings(), utcnow).state == "done"  # redelivered message
    assert len(http.delivered) == 1
    text = http.delivered[0]["body"]["text"]
    assert name in text
    assert "ask the seller to cancel" in text
    assert f"dropsync supplier cancel-requested '{name}'" in text
    assert http.delivered[0]["key"] == f"dropsync-notification-{alert_id}"
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert name in mail["Subject"]
    assert mail["To"] == "ops@example.com"
    assert mail["Message-ID"] == f"<dropsync-notification-{alert_id}@dropsync>"
    assert "ask the seller to cancel" in mail.get_payload()
    # Raising the same alert again is a no-op: no new rows, nothing sent.
    assert all(n.state == "sent" for n in _notifications(alert_id).values())


def test_below_the_minimum_severity_nothing_leaves(
    committed_db: Engine, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    alert_id, _ = _raise("info")
    assert _notifications(alert_id) == {}


def test_a_refusing_channel_is_retried_with_backoff_then_failed_and_the_url_never_shown(
    committed_db: Engine,
    receivers: tuple[HttpReceiver, SmtpReceiver],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, _ = receivers
    http.status = 500
    monkeypatch.setenv("DROPSYNC_NOTIFY_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    alert_id, _ = _raise()
    row = _notifications(alert_id)["webhook"]
    now = utcnow()
    first = deliver(session_scope, row.id, get_settings(), lambda: now)
    assert first.state == "retry"
    assert first.retry_in == 30
    assert deliver(session_scope, row.id, get_settings(), lambda: now).state == "retry"  # not due yet: no attempt
    assert len(http.attempts) == 1
    with session_scope() as session:
        assert row.id not in due_for_delivery(session, now, dt.timedelta(seconds=120))
        assert row.id in due_for_delivery(session, now + dt.timedelta(seconds=31), dt.timedelta(seconds=120))
    later = now + dt.timedelta(seconds=31)
    assert deliver(session_scope, row.id, get_settings(), lambda: later).state == "retry"
    last = later + dt.timedelta(seconds=61)
    assert deliver(session_scope, row.id, get_settings(), lambda: last).state == "failed"
    stored = _notifications(alert_id)["webhook"]
    assert (stored.state, stored.attempts, stored.last_error) == ("failed", 3, "webhook: HTTP 500")
    with session_scope() as session:
        failed = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "notification.failed")).one()
    assert "T0KEN-SECRET" not in failed.message
    assert "T0KEN-SECRET" not in capsys.readouterr().out


def test_an_unreachable_webhook_error_does_not_carry_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPSYNC_NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/services/T000/B000/XXXXSECRETXXXX")
    get_settings.cache_clear()
    from worker.notify.channels import DeliveryFailed, Message

    with pytest.raises(DeliveryFailed) as failed:
        SENDERS["webhook"](get_settings(), Message("s", "t", "k"))
    assert "SECRET" not in str(failed.value)
    assert str(failed.value) == "webhook: ConnectError"
    get_settings.cache_clear()


def test_a_claim_abandoned_by_a_dead_worker_is_taken_again_after_the_stale_limit(
    committed_db: Engine, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, _ = receivers
    alert_id, _ = _raise()
    row = _notifications(alert_id)["webhook"]
    now = utcnow()
    with session_scope() as session:  # a worker claimed it, then died before sending
        claimed = session.get_one(Notification, row.id)
        claimed.state, claimed.claimed_at, claimed.attempts = "sending", now, 1
    in_flight = deliver(session_scope, row.id, get_settings(), lambda: now + dt.timedelta(seconds=5))
    assert in_flight.state == "in_flight"
    assert http.attempts == []
    with session_scope() as session:
        stale = dt.timedelta(seconds=get_settings().notify_stale_seconds)
        assert row.id not in due_for_delivery(session, now + dt.timedelta(seconds=5) - stale, stale)
        assert row.id in due_for_delivery(session, now + stale + dt.timedelta(seconds=1), stale)
    after = now + dt.timedelta(seconds=get_settings().notify_stale_seconds + 1)
    assert deliver(session_scope, row.id, get_settings(), lambda: after).state == "sent"
    assert len(http.delivered) == 1
    with session_scope() as session:
        assert session.get_one(Alert, alert_id).resolved_at is None


def test_an_alert_that_comes_back_after_it_was_resolved_is_delivered_again_under_a_key_of_its_own(
    committed_db: Engine, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    """An intent that fails again after a person's retry, a disagreement that returns: the person must hear
    it on their channel, not only in ``dropsync check``; a receiver deduplicating on the key must not drop it."""
    from worker.alerts import resolve_alert

    http, smtp = receivers
    alert_id, name = _raise()
    for row in _notifications(alert_id).values():
        assert deliver(session_scope, row.id, get_settings(), utcnow).state == "sent"
    with session_scope() as session:
        alert = session.get_one(Alert, alert_id)
        resolve_alert(session, alert, utcnow(), actor="test", why="a person retried it")
        spec = AlertSpec(
            shop_id=alert.shop_id, order_id=alert.order_id, supplier_order_id=None, kind=alert.kind,
            severity="critical", message=f"{name} failed again", due_at=None, dedupe_key=alert.dedupe_key,
            subject=name,
        )  # fmt: skip
        assert raise_alert(session, spec, utcnow(), actor="test", reopen=True) is None  # reopened, not new
    rows = _notifications(alert_id)
    assert {n.state for n in rows.values()} == {"pending"}
    for row in rows.values():
        assert deliver(session_scope, row.id, get_settings(), utcnow).state == "sent"
        assert deliver(session_scope, row.id, get_settings(), utcnow).state == "done"  # once per raising
    assert len(http.delivered) == len(smtp.messages) == 2
    first, second = http.delivered
    assert first["key"] == f"dropsync-notification-{alert_id}"
    assert second["key"].startswith(f"dropsync-notification-{alert_id}-")
    assert second["key"] != first["key"]
    assert "failed again" in second["body"]["text"]
    assert smtp.messages[1]["Message-ID"].startswith(f"<dropsync-notification-{alert_id}-")  # each channel's own
    assert smtp.messages[1]["Subject"].endswith("(again)")
    # Raised again while open: nothing more is sent.
    with session_scope() as session:
        assert raise_alert(session, spec, utcnow(), actor="test", reopen=True) is None
    assert {n.state for n in _notifications(alert_id).values()} == {"sent"}
