"""A chargeback arrives (sandbox webhook → receiver → inbox → drain): the dispute, its deadline, its alert."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, Chargeback, Order, Shop, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.chargebacks.conftest import deliver, fulfilled_order
from worker.chargebacks import deadlines, sync
from worker.chargebacks.hooks import REFRESH_TASK
from worker.db import session_scope


def _chargeback(dispute_gid: str) -> Chargeback:
    with session_scope() as session:
        return session.scalars(select(Chargeback).where(Chargeback.dispute_gid == dispute_gid)).one()


def _events(order_id: int) -> list[TimelineEvent]:
    with session_scope() as session:
        query = select(TimelineEvent).where(TimelineEvent.order_id == order_id).order_by(TimelineEvent.id)
        return list(session.scalars(query))


@pytest.mark.usefixtures("webhooks")
def test_a_chargeback_webhook_creates_the_dispute_the_deadline_and_the_alert(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = fulfilled_order(sandbox)
    order_id = mirror(client, shop.id, gid)
    published.take()
    sandbox.control.set_faults(webhook_duplicate_rate=1.0)  # every delivery twice: still one dispute, one alert
    dispute_gid = sandbox.control.open_dispute(gid, type="CHARGEBACK", reason="PRODUCT_NOT_RECEIVED")
    deliver(sandbox)

    row = _chargeback(dispute_gid)
    with session_scope() as session:
        total = session.get_one(Order, order_id).total_price
    assert (row.order_id, row.dispute_type, row.reason, row.status) == (
        order_id, "CHARGEBACK", "PRODUCT_NOT_RECEIVED", "NEEDS_RESPONSE",
    )  # fmt: skip
    assert row.amount == total
    assert row.fee == Decimal("15")
    assert row.network_reason_code == "13.1"
    assert row.evidence_due_by is not None
    assert row.initiated_at is not None
    assert row.evidence_due_by > row.initiated_at
    with session_scope() as session:
        alerts = session.scalars(select(Alert).where(Alert.order_id == order_id)).all()
    assert [(a.kind, a.due_at, a.resolved_at) for a in alerts] == [
        ("chargeback_needs_response", row.evidence_due_by, None)
    ]
    kinds = [e.kind for e in _events(order_id)]
    assert kinds.count("chargeback.opened") == 1
    assert kinds.count("alert.raised") == 1
    assert published.take() == [(REFRESH_TASK, [shop.id, dispute_gid])]  # once per delivery id, not twice
    # The refresh task reads what the webhook lacks: the evidence id and the order's fulfillments.
    assert sync.refresh(session_scope, shop.id, dispute_gid, client) == "NEEDS_RESPONSE"
    row = _chargeback(dispute_gid)
    assert row.evidence_gid is not None
    assert [f["shippingTrackingNumber"] for f in row.shopify_fulfillments] == ["YT2412345678"]


@pytest.mark.usefixtures("webhooks")
def test_decisions_arrive_by_webhook_move_forward_only_and_resolve_the_alert(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = fulfilled_order(sandbox)
    order_id = mirror(client, shop.id, gid)
    dispute_gid = sandbox.control.open_dispute(gid, reason="FRAUDULENT")
    deliver(sandbox)
    sandbox.control.decide_dispute(dispute_gid, "LOST")
    deliver(sandbox)
    row = _chargeback(dispute_gid)
    assert row.status == "LOST"
    assert row.finalized_on is not None
    with session_scope() as session:
        alert = session.scalars(select(Alert).where(Alert.order_id == order_id)).one()
        assert alert.resolved_at is not None
        # A late replay of the creation webhook (NEEDS_RESPONSE) changes nothing.
        from worker.chargebacks import mirror as dispute_mirror

        body = next(d["payload"] for d in sandbox.control.deliveries() if d["topic"] == "disputes/create")
        dispute_mirror.apply_dispute(session, shop.id, dispute_mirror.from_rest(body), actor="test")
    assert _chargeback(dispute_gid).status == "LOST"
    assert [e.kind for e in _events(order_id)].count("chargeback.changed") == 1


@pytest.mark.usefixtures("webhooks")
def test_a_dispute_before_its_order_is_linked_when_the_order_arrives(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = fulfilled_order(sandbox)
    dispute_gid = sandbox.control.open_dispute(gid, reason="PRODUCT_UNACCEPTABLE")
    deliver(sandbox)
    assert _chargeback(dispute_gid).order_id is None
    order_id = mirror(client, shop.id, gid)
    assert _chargeback(dispute_gid).order_id == order_id
    assert "chargeback.linked" in [e.kind for e in _events(order_id)]


def test_the_periodic_read_catches_lost_webhooks_and_the_deadline_alerts_escalate(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = fulfilled_order(sandbox)
    order_id = mirror(client, shop.id, gid)
    soon = sandbox.control.open_dispute(gid, reason="PRODUCT_NOT_RECEIVED", evidence_due_in_days=1)
    with session_scope() as session:
        assert session.scalar(select(Chargeback.id)) is None  # no webhook subscribed: nothing yet
    from models.types import utcnow

    assert sync.sync_shop(session_scope, shop.id, client, utcnow()) == 1
    row = _chargeback(soon)
    assert row.evidence_gid is not None
    with session_scope() as session:
        # Read the first time already within the warning window: the escalated stage only.
        kinds = sorted(a.kind for a in session.scalars(select(Alert).where(Alert.order_id == order_id)))
        assert kinds == ["chargeback_evidence_due_near"]
        assert row.evidence_due_by is not None
        assert deadlines.sync_all(session, row.evidence_due_by) == 1  # passed: one more alert, once
        assert deadlines.sync_all(session, row.evidence_due_by) == 0
        passed = session.scalars(select(Alert).where(Alert.kind == "chargeback_evidence_due_passed")).one()
        assert passed.severity == "critical"
        still_open = select(Alert.kind).where(Alert.order_id == order_id, Alert.resolved_at.is_(None))
        assert session.scalars(still_open).all() == ["chargeback_evidence_due_passed"]  # it replaced "near"
