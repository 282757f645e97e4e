"""The webhook receiver: what it accepts, what it refuses (writing nothing), and the drain behind it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from integrations.shopify.webhooks import sign
from models import LedgerEntry, Order, Shop, WebhookDelivery
from tests.mirror.factories import rest_order, rest_refund
from tests.support.database import abort_as
from tests.support.shopify import receiver_shop
from worker.db import session_scope
from worker.mirror import inbox
from worker.web.app import create_app

SECRET = "whsec-test-secret"
DOMAIN = "receiver-test.myshopify.com"


@pytest.fixture
def shop(committed_db: Engine) -> Iterator[Shop]:
    with receiver_shop(committed_db, DOMAIN, SECRET, "shpat_x") as shop:
        yield shop


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def _headers(body: bytes, topic: str = "orders/updated", **overrides: str) -> dict[str, str]:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(SECRET, body),
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-01T10:00:00.123Z",
        "X-Shopify-API-Version": "2026-10",
        "Content-Type": "application/json",
    }
    headers.update(overrides)
    return headers


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_signed_delivery_is_stored_once(client: TestClient, committed_db: Engine) -> None:
    body = _body(rest_order(1))
    headers = _headers(body)
    first = client.post("/webhooks/shopify", content=body, headers=headers)
    again = client.post("/webhooks/shopify", content=body, headers=headers)  # Shopify's retry: same id
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert _count(committed_db, WebhookDelivery) == 1
    with Session(committed_db) as session:
        stored = session.scalars(select(WebhookDelivery)).one()
    assert stored.topic == "orders/updated"
    assert stored.triggered_at is not None
    assert stored.handled_at is None


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b, h: (b, {**h, "X-Shopify-Hmac-Sha256": sign("forged", b)}), 401),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Shopify-Hmac-Sha256"}), 401),
        (lambda b, h: (b[: len(b) // 2], h), 401),  # truncated body: the HMAC no longer matches
        (lambda b, h: (b, {**h, "X-Shopify-Shop-Domain": "stranger.myshopify.com"}), 404),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Shopify-Webhook-Id"}), 400),
        (lambda b, h: (b + b"x" * (1_048_577 - len(b)), h), 413),
    ],
    ids=["forged-hmac", "missing-hmac", "truncated-body", "unknown-shop", "missing-delivery-id", "oversized"],
)
def test_bad_deliveries_are_rejected_and_write_nothing(
    client: TestClient, committed_db: Engine, mutate: Any, status: int
) -> None:
    body = _body(rest_order(1))
    sent_body, headers = mutate(body, _headers(body))
    response = client.post("/webhooks/shopify", content=sent_body, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()
    assert _count(committed_db, WebhookDelivery) == 0


def test_malformed_json_with_a_valid_signature_is_rejected(client: TestClient, committed_db: Engine) -> None:
    for body in (b'{"id": 1', b"[1, 2]"):
        response = client.post("/webhooks/shopify", content=body, headers=_headers(body))
        assert response.status_code == 400
    assert _count(committed_db, WebhookDelivery) == 0


def test_metrics_count_accepted_and_rejected(client: TestClient) -> None:
    body = _body(rest_order(1))
    client.post("/webhooks/shopify", content=body, headers=_headers(body))
    client.post("/webhooks/shopify", content=body, headers=_headers(body, **{"X-Shopify-Hmac-Sha256": "bad"}))
    text = client.get("/metrics").text
    assert 'dropsync_webhooks_received_total{topic="orders/updated"}' in text
    assert 'dropsync_webhooks_rejected_total{reason="bad_hmac"}' in text


def test_drain_applies_deliveries_and_marks_them_handled(client: TestClient, committed_db: Engine) -> None:
    payloads = [
        ("orders/create", rest_order(1)),
        ("orders/updated", rest_order(1, "2026-11-02T10:00:00Z", refunds=[rest_refund(1, 700, "25.00")])),
        ("orders/create", rest_order(2)),
    ]
    for topic, payload in payloads:
        body = _body(payload)
        assert client.post("/webhooks/shopify", content=body, headers=_headers(body, topic)).status_code == 200
    assert inbox.drain(session_scope) == 3
    with Session(committed_db) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.handled_at.is_(None))) == 0  # fmt: skip
        assert session.scalar(select(func.count()).select_from(Order)) == 2
        refunds = session.scalars(select(LedgerEntry.amount).where(LedgerEntry.kind == "customer_refund")).all()
    assert [str(a) for a in refunds] == ["25.0000"]


def test_a_crash_before_commit_leaves_the_delivery_unhandled_and_it_is_applied_once_later(
    client: TestClient, committed_db: Engine
) -> None:
    body = _body(rest_order(1, refunds=[rest_refund(1, 700, "25.00")]))
    client.post("/webhooks/shopify", content=body, headers=_headers(body))

    @contextmanager
    def crashing_unit_of_work() -> Iterator[Session]:
        with session_scope() as session:
            yield session
            session.flush()  # the effects reached the database…
            raise SystemExit("killed before commit")  # …but the process died before COMMIT

    with pytest.raises(SystemExit):
        inbox.drain(crashing_unit_of_work)
    assert _count(committed_db, Order) == 0
    assert inbox.drain(session_scope) == 1
    assert inbox.drain(session_scope) == 0
    assert _count(committed_db, Order) == 1
    assert _count(committed_db, LedgerEntry) == 1


def test_a_poison_delivery_is_isolated(client: TestClient, committed_db: Engine) -> None:
    bad = _body({"id": 1})  # an order payload without updated_at or currency
    good = _body(rest_order(2))
    client.post("/webhooks/shopify", content=bad, headers=_headers(bad, "orders/updated"))
    client.post("/webhooks/shopify", content=good, headers=_headers(good, "orders/updated"))
    assert inbox.drain(session_scope) == 1
    assert _count(committed_db, Order) == 1
    with Session(committed_db) as session:
        failed = session.scalars(select(WebhookDelivery).where(WebhookDelivery.handled_at.is_(None))).one()
    assert failed.attempts >= 1
    assert "currency" in (failed.last_error or "") or "updated_at" in (failed.last_error or "")


@pytest.mark.postgres
def test_a_batch_the_database_aborts_for_a_deadlock_is_run_again_whole(
    client: TestClient, committed_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain merging orders a backfill is writing can deadlock with it: the batch is run again as it was,
    not split into one-by-one transactions that count a failed attempt against each delivery."""
    for number in (1, 2, 3):
        body = _body(rest_order(number))
        client.post("/webhooks/shopify", content=body, headers=_headers(body, "orders/updated"))
    real_handle, batches = inbox.handle_deliveries, []

    def deadlocks_once(session: Session, deliveries: list[WebhookDelivery]) -> None:
        batches.append(len(deliveries))
        real_handle(session, deliveries)
        if len(batches) == 1:
            abort_as(session, "40P01")

    monkeypatch.setattr(inbox, "handle_deliveries", deadlocks_once)
    assert inbox.drain(session_scope) == 3
    assert batches == [3, 3]
    assert _count(committed_db, Order) == 3
    with Session(committed_db) as session:
        handled = session.execute(select(WebhookDelivery.attempts, WebhookDelivery.last_error)).all()
    assert handled == [(1, None)] * 3  # the aborted run left no trace: handled at its one counted attempt


def test_customer_redact_erases_pii(client: TestClient, committed_db: Engine) -> None:
    body = _body(rest_order(1))
    client.post("/webhooks/shopify", content=body, headers=_headers(body))
    redact = _body({"shop_domain": DOMAIN, "customer": {"id": 77, "email": "buyer1@example.com"},
                    "orders_to_redact": [5001]})  # fmt: skip
    client.post("/webhooks/shopify", content=redact, headers=_headers(redact, "customers/redact"))
    inbox.drain(session_scope)
    with Session(committed_db) as session:
        order = session.scalars(select(Order)).one()
    assert (order.email, order.phone, order.customer_name, order.shipping_address) == (None, None, None, None)
    assert order.redacted_at is not None
    assert "buyer1@example.com" not in json.dumps(order.raw)
    assert order.total_price is not None


def test_fulfillment_order_webhooks_update_status_in_graphql_form(client: TestClient, committed_db: Engine) -> None:
    from models import FulfillmentOrder
    from tests.mirror.factories import graphql_order
    from worker.mirror.apply import apply_snapshots
    from worker.mirror.snapshot import from_graphql

    with session_scope() as session:
        shop_id = session.scalars(select(Shop.id)).one()
        apply_snapshots(session, shop_id, [from_graphql(graphql_order(1))])
    body = _body({"fulfillment_order": {"id": "gid://shopify/FulfillmentOrder/5001", "status": "in_progress",
                                        "request_status": "cancellation_accepted"}, "message": "ok"})  # fmt: skip
    topic = "fulfillment_orders/cancellation_request_accepted"
    assert client.post("/webhooks/shopify", content=body, headers=_headers(body, topic)).status_code == 200
    inbox.drain(session_scope)
    with Session(committed_db) as session:
        fo = session.scalars(select(FulfillmentOrder)).one()
    assert (fo.status, fo.request_status) == ("IN_PROGRESS", "CANCELLATION_ACCEPTED")
