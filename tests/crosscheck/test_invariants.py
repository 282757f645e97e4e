"""The notification outbox's invariants, held by the schema."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Alert, Notification
from models.types import utcnow
from tests.supplier.factories import make_order


def _alert(session: Session) -> Alert:
    order = make_order(session)
    alert = Alert(shop_id=order.shop_id, order_id=order.id, kind="k", message="m", dedupe_key=f"inv:{order.id}",
                  raised_at=utcnow())  # fmt: skip
    session.add(alert)
    session.flush()
    return alert


def test_one_notification_per_alert_and_channel(session: Session) -> None:
    alert = _alert(session)
    session.add(Notification(alert_id=alert.id, shop_id=alert.shop_id, channel="webhook", created_at=utcnow()))
    session.flush()
    session.add(Notification(alert_id=alert.id, shop_id=alert.shop_id, channel="email", created_at=utcnow()))
    session.flush()
    session.add(Notification(alert_id=alert.id, shop_id=alert.shop_id, channel="webhook", created_at=utcnow()))
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


@pytest.mark.parametrize(("field", "value"), [("state", "lost"), ("attempts", -1)])
def test_state_and_attempts_are_checked(session: Session, field: str, value: object) -> None:
    alert = _alert(session)
    row = Notification(alert_id=alert.id, shop_id=alert.shop_id, channel="webhook", created_at=utcnow())
    setattr(row, field, value)
    session.add(row)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()
