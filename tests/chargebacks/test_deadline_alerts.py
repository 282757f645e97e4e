"""A chargeback's evidence deadline is one open alert that escalates, raised and resolved through the one
alert path (``worker.alerts``), and counted once in the deadline gauges."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Alert, Chargeback, Shop, TimelineEvent
from worker.chargebacks import deadlines
from worker.observability.ledger import read_snapshot

DUE = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
WARNING = dt.timedelta(days=3)


def _chargeback(session: Session) -> Chargeback:
    shop = Shop(domain=f"c{uuid.uuid4().hex[:8]}.myshopify.com")
    session.add(shop)
    session.flush()
    row = Chargeback(
        shop_id=shop.id, dispute_gid=f"gid://shopify/ShopifyPaymentsDispute/{uuid.uuid4().int % 10**9}",
        dispute_type="CHARGEBACK", reason="PRODUCT_NOT_RECEIVED", status="NEEDS_RESPONSE", amount=Decimal("40.00"),
        currency="USD", evidence_due_by=DUE,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _open(session: Session) -> list[str]:
    query = select(Alert.kind).where(Alert.resolved_at.is_(None), Alert.kind.startswith("chargeback_"))
    return sorted(session.scalars(query))


def _gauges(session: Session, now: dt.datetime) -> tuple[int, int]:
    """(due, overdue) over the chargeback kinds, as ``/metrics`` reads them from the ledger."""
    snapshot = read_snapshot(session.connection(), now, exposure={})
    due = sum(n for kind, n in snapshot.deadlines_due.items() if kind.startswith("chargeback_"))
    overdue = sum(n for kind, n in snapshot.deadlines_overdue.items() if kind.startswith("chargeback_"))
    return due, overdue


def _events(session: Session, kind: str) -> list[str]:
    query = select(TimelineEvent.message).where(TimelineEvent.kind == kind).order_by(TimelineEvent.id)
    return list(session.scalars(query))


def test_a_passed_evidence_deadline_is_one_open_alert_counted_once(session: Session) -> None:
    row = _chargeback(session)
    opened = DUE - dt.timedelta(days=10)
    assert deadlines.sync_alerts(session, row, opened, WARNING) == 1
    assert _open(session) == ["chargeback_needs_response"]
    assert _gauges(session, opened) == (1, 0)

    near = DUE - dt.timedelta(days=1)
    assert deadlines.sync_alerts(session, row, near, WARNING) == 1
    assert _open(session) == ["chargeback_evidence_due_near"]
    assert _gauges(session, near) == (1, 0)

    passed = DUE + dt.timedelta(hours=1)
    assert deadlines.sync_alerts(session, row, passed, WARNING) == 1
    assert deadlines.sync_alerts(session, row, passed, WARNING) == 0  # each stage once
    assert _open(session) == ["chargeback_evidence_due_passed"]
    assert _gauges(session, passed) == (1, 1)  # was (2, 2): needs_response stayed open beside it

    resolved = _events(session, "alert.resolved")
    assert len(resolved) == 2
    assert resolved[0].endswith("(superseded by chargeback_evidence_due_near)")
    assert resolved[1].endswith("(superseded by chargeback_evidence_due_passed)")


def test_evidence_sent_resolves_the_open_alert_on_the_timeline(session: Session) -> None:
    row = _chargeback(session)
    now = DUE - dt.timedelta(days=1)
    deadlines.sync_alerts(session, row, now, WARNING)
    row.evidence_sent_on = now
    session.flush()
    assert deadlines.sync_alerts(session, row, now, WARNING) == 0
    assert _open(session) == []
    (message,) = _events(session, "alert.resolved")
    assert message.endswith("(evidence sent)")
    assert _gauges(session, DUE + dt.timedelta(days=1)) == (0, 0)


def test_a_decided_dispute_resolves_and_a_moved_deadline_alerts_again(session: Session) -> None:
    row = _chargeback(session)
    now = DUE - dt.timedelta(days=10)
    deadlines.sync_alerts(session, row, now, WARNING)
    row.evidence_due_by = DUE + dt.timedelta(days=5)  # Shopify extended it
    session.flush()
    assert deadlines.sync_alerts(session, row, now, WARNING) == 1
    alerts = session.scalars(select(Alert).where(Alert.kind == "chargeback_needs_response").order_by(Alert.id)).all()
    assert [(a.due_at, a.resolved_at is None) for a in alerts] == [(DUE, False), (row.evidence_due_by, True)]
    assert _events(session, "alert.resolved")[-1].endswith("(the deadline moved to 2026-03-25 12:00 UTC)")
    row.status = "LOST"
    session.flush()
    deadlines.sync_all(session, now)
    assert _open(session) == []
    assert _events(session, "alert.resolved")[-1].endswith("(the dispute is lost)")


def test_each_stage_gives_a_runnable_command() -> None:
    assert deadlines.command(deadlines.OPEN, "'#1001'", None) == "dropsync chargebacks show '#1001'"
    assert deadlines.command(deadlines.NEAR, "'#1001'", None) == "dropsync chargebacks submit '#1001'"
    assert deadlines.command(deadlines.NEAR, "'#1001'", "42") == "dropsync chargebacks submit '#1001' --dispute 42"
    assert deadlines.command(deadlines.PASSED, "'#1001'", "42") == "dropsync chargebacks show '#1001'"
    assert deadlines.command(deadlines.OPEN, None, None) == "dropsync sync reconcile"  # the order first
