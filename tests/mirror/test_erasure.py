"""Privacy erasure reaches every stored copy: after ``customers/redact`` / ``shop/redact`` a dump of the
whole database (``pg_dump`` on PostgreSQL) holds none of the customer's e-mail, phone, name or address;
and handled deliveries are pruned after the retention period."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from starlette.testclient import TestClient

from integrations.shopify.webhooks import sign
from models import (
    Alert,
    CancellationRequest,
    Dispute,
    LedgerEntry,
    Order,
    Shop,
    ShopifyIntent,
    SupplierOrder,
    WebhookDelivery,
)
from models.types import utcnow
from tests.mirror.factories import rest_order
from tests.support.dump import dump_database
from tests.support.shopify import receiver_shop
from worker.db import session_scope
from worker.mirror import inbox
from worker.timeline import record_event
from worker.web.app import create_app

SECRET = "whsec-erasure-secret"
DOMAIN = "erasure-test.myshopify.com"
GRACE = {"email": "grace.hopper@navy.example", "phone": "+15550001111", "first": "Grace", "last": "Hopper",
         "address1": "7 Harbor Road", "customer_id": 4401}  # fmt: skip
ALAN = {"email": "alan.turing@bletchley.example", "phone": "+15550002222", "first": "Alan", "last": "Turing",
        "address1": "9 Park Lane", "customer_id": 4402}  # fmt: skip


def _values(who: dict[str, Any]) -> list[str]:
    return [who["email"], who["phone"], f"{who['first']} {who['last']}", who["last"], who["address1"]]


@pytest.fixture
def shop(committed_db: Engine) -> Iterator[Shop]:
    with receiver_shop(committed_db, DOMAIN, SECRET, "shpat_erasure") as shop:
        yield shop


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def _post(client: TestClient, topic: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign(SECRET, body), "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-10",
        "Content-Type": "application/json",
    }  # fmt: skip
    assert client.post("/webhooks/shopify", content=body, headers=headers).status_code == 200


def _order_of(number: int, who: dict[str, Any]) -> dict[str, Any]:
    order = rest_order(number)
    name = f"{who['first']} {who['last']}"
    order.update(email=who["email"], phone=who["phone"])
    customer_gid = f"gid://shopify/Customer/{who['customer_id']}"
    order["customer"] = {"id": who["customer_id"], "admin_graphql_api_id": customer_gid,
                         "first_name": who["first"], "last_name": who["last"], "email": who["email"],
                         "phone": who["phone"],
                         "default_address": {"address1": who["address1"], "name": name}}  # fmt: skip
    order["shipping_address"] = {"name": name, "first_name": who["first"], "last_name": who["last"],
                                 "address1": who["address1"], "city": "Springfield", "phone": who["phone"]}  # fmt: skip
    order["billing_address"] = dict(order["shipping_address"])
    return order


def _copies_elsewhere(shop_id: int, number: int, who: dict[str, Any]) -> None:
    """The customer's values where operators and features put them: timeline, alert, request, intent,
    ledger note, supplier order and dispute."""
    name, email = f"{who['first']} {who['last']}", who["email"]
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == f"gid://shopify/Order/{5000 + number}")).one()
        record_event(session, shop_id=shop_id, order_id=order.id, kind="operator.note", actor="operator:test",
                     message=f"called {name} at {who['phone']}", data={"contact": email})  # fmt: skip
        session.add(Alert(shop_id=shop_id, order_id=order.id, kind="manual", message=f"{name} <{email}> waits",
                          dedupe_key=f"manual:{number}", raised_at=utcnow()))  # fmt: skip
        history = [{"why": f"mail {email}"}]
        request = CancellationRequest(shop_id=shop_id, order_id=order.id, reason="damaged", state="done",
                                      note=f"{name} wrote from {email}", state_history=history)  # fmt: skip
        session.add(request)
        session.flush()
        session.add(ShopifyIntent(shop_id=shop_id, order_id=order.id, cancellation_request_id=request.id,
                                  kind="refund_create", params={"note": f"refund for {name}"}, state="succeeded",
                                  idempotency_key=f"k-{number}", attempts=1, result_ids=[]))  # fmt: skip
        session.add(LedgerEntry(shop_id=shop_id, order_id=order.id, kind="customer_refund", amount=Decimal("1.00"),
                                currency="USD", source_ref=f"note-{number}", occurred_at=utcnow(),
                                note=f"goodwill for {name}"))  # fmt: skip
        supplier = SupplierOrder(shop_id=shop_id, order_id=order.id, supplier_order_id=f"AE{number}", status="paid",
                                 raw={"receiver_name": name, "receiver_address": who["address1"],
                                      "memo": f"ship to {name}, {who['address1']}"})  # fmt: skip
        session.add(supplier)
        session.flush()
        session.add(Dispute(supplier_order_id=supplier.id, reason="not_received", opened_at=utcnow(),
                            notes=f"buyer {name} ({who['phone']}) never got it at {who['address1']}",
                            evidence=[{"text": f"photo sent by {email}"}]))  # fmt: skip


def _store_both(client: TestClient, shop: Shop) -> None:
    _post(client, "orders/create", _order_of(1, GRACE))
    _post(client, "orders/create", _order_of(2, ALAN))
    inbox.drain(session_scope)
    _copies_elsewhere(shop.id, 1, GRACE)
    _copies_elsewhere(shop.id, 2, ALAN)


def _hits(dump: str, who: dict[str, Any]) -> list[str]:
    return [value for value in _values(who) if value.lower() in dump.lower()]


def test_customer_redact_leaves_none_of_their_values_anywhere(
    client: TestClient, shop: Shop, committed_db: Engine
) -> None:
    _store_both(client, shop)
    assert _hits(dump_database(committed_db), GRACE) == _values(GRACE)  # every copy is really there
    _post(client, "customers/redact", {
        "shop_id": 1, "shop_domain": DOMAIN, "orders_to_redact": [5001],
        "customer": {"id": GRACE["customer_id"], "email": GRACE["email"], "phone": GRACE["phone"]},
    })  # fmt: skip
    inbox.drain(session_scope)
    dump = dump_database(committed_db)
    assert _hits(dump, GRACE) == []
    assert _hits(dump, ALAN) == _values(ALAN)  # another customer's data stays
    with session_scope() as session:
        deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        assert [d.topic for d in deliveries] == ["orders/create", "orders/create", "customers/redact"]
        assert all(d.handled_at is not None for d in deliveries)
        order = session.scalars(select(Order).where(Order.shopify_gid == "gid://shopify/Order/5001")).one()
        assert order.total_price == Decimal("59.00")  # the books still add up
        assert order.redacted_at is not None


def test_shop_redact_leaves_no_customer_values_anywhere(client: TestClient, shop: Shop, committed_db: Engine) -> None:
    _store_both(client, shop)
    # A delivery for an order that never reached the ledger (still failing) holds PII too.
    stranger = _order_of(3, {**ALAN, "email": "stranger@nowhere.example", "customer_id": 4403})
    stranger["currency"] = None
    _post(client, "orders/updated", stranger)
    _post(client, "shop/redact", {"shop_id": 1, "shop_domain": DOMAIN})
    inbox.drain(session_scope)
    dump = dump_database(committed_db)
    assert _hits(dump, GRACE) == []
    assert _hits(dump, ALAN) == []
    assert "stranger@nowhere.example" not in dump
    with session_scope() as session:
        assert session.scalars(select(Shop)).one().active is False


def test_handled_deliveries_are_pruned_after_the_retention_period(client: TestClient, shop: Shop) -> None:
    for number in (1, 2, 3):
        _post(client, "orders/create", _order_of(number, GRACE))
    inbox.drain(session_scope)
    _post(client, "orders/updated", {"id": 1})  # unhandled (fails): kept whatever its age
    now = utcnow()
    with session_scope() as session:
        ids = session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all()
        old = now - dt.timedelta(days=31)
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids[:2])).values(handled_at=old))
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == ids[3]).values(received_at=old))
    from worker.mirror.tasks import prune_inbox

    assert prune_inbox() == 2  # the beat task, with DROPSYNC_INBOX_RETENTION_DAYS' default of 30
    with session_scope() as session:
        assert session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all() == ids[2:]
        assert session.scalar(select(func.count()).select_from(Order)) == 3  # the ledger keeps its orders
