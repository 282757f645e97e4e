"""The ledger equals Shopify after one reconciliation, whatever happened to the webhooks.

Against the Shopify sandbox with its fault switches on: 20 % of webhooks dropped, 20 % duplicated, all
shuffled; real HTTP deliveries to the real receiver; then one sweep. Every order is compared field by
field with the sandbox's own record, and no money entry is counted twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import LedgerEntry, Order, Shop
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.support.shopify import register_sandbox_shop
from tests.support.web import serve_app
from worker.db import session_scope
from worker.mirror import inbox, receiver, reconcile
from worker.web.app import create_app

TOPICS = ["orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled", "orders/paid", "refunds/create"]


@pytest.fixture
def sandbox() -> Iterator[ShopifySandbox]:
    config = SandboxConfig(
        seed=11, orders=25, plan="plus", shop_domain="converge.myshopify.com", access_token="shpat_converge",
        client_secret="converge-secret", webhook_backoff=(0.05, 0.1), job_delay_seconds=0.0,
    )  # fmt: skip
    box = ShopifySandbox(config)
    with box.serve():
        yield box
    box.close()


@pytest.fixture
def shop(committed_db: Engine, sandbox: ShopifySandbox) -> Iterator[Shop]:
    yield register_sandbox_shop(committed_db, sandbox)
    receiver.shops.clear()


def _client(sandbox: ShopifySandbox) -> ShopifyClient:
    return ShopifyClient(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url)


def _refund_first_line(client: ShopifyClient, order_gid: str) -> None:
    order = client.execute("OrderForAction", {"id": order_gid})["order"]
    line = order["lineItems"]["nodes"][0]
    suggested = client.execute(
        "SuggestedRefund", {"id": order_gid, "refundLineItems": [{"lineItemId": line["id"], "quantity": 1}]}
    )["order"]["suggestedRefund"]
    transactions = [
        {"parentId": t["parentTransaction"]["id"], "amount": t["amountSet"]["shopMoney"]["amount"],
         "gateway": t["gateway"], "kind": "REFUND", "orderId": order_gid}
        for t in suggested["suggestedTransactions"]
    ]  # fmt: skip
    refund_input = {
        "orderId": order_gid, "notify": False, "transactions": transactions,
        "refundLineItems": [{"lineItemId": line["id"], "quantity": 1, "restockType": "NO_RESTOCK"}],
    }  # fmt: skip
    client.execute("RefundCreate", {"input": refund_input, "idempotencyKey": str(uuid.uuid4())})


def _drive_activity(sandbox: ShopifySandbox, client: ShopifyClient) -> list[str]:
    control = sandbox.control
    created = [control.create_order(status="paid", line_items=2) for _ in range(12)]
    for gid in created[:4]:
        control.fulfillment(gid, "submit")
        control.fulfillment(gid, "accept")
        control.fulfillment(gid, "fulfill", tracking_number=f"LP{uuid.uuid4().hex[:10]}")
    for gid in created[4:7]:
        _refund_first_line(client, gid)
    for gid in created[7:9]:
        control.touch_order(gid, tags=["vip"])
    return created


def _ledger_view(order: Order) -> dict[str, Any]:
    return {
        "name": order.name, "financial_status": order.display_financial_status,
        "fulfillment_status": order.display_fulfillment_status,
        "cancelled_at": order.cancelled_at, "currency": order.currency,
        "total_price": order.total_price, "total_received": order.total_received,
        "total_refunded": order.total_refunded, "total_outstanding": order.total_outstanding,
        "updated_at": order.shopify_updated_at,
        "line_items": sorted((li.shopify_gid, li.sku, li.quantity) for li in order.line_items),
        "fulfillment_orders": sorted((fo.shopify_gid, fo.status, fo.request_status) for fo in order.fulfillment_orders),
        "refund_count": len(order.refunds),
    }  # fmt: skip


def _sandbox_view(snap: dict[str, Any]) -> dict[str, Any]:
    def money(value: str) -> Decimal:
        return Decimal(value).quantize(Decimal("0.0001"))

    def when(value: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC) if value else None

    return {
        "name": snap["name"], "financial_status": snap["financial_status"],
        "fulfillment_status": snap["fulfillment_status"], "cancelled_at": when(snap["cancelled_at"]),
        "currency": snap["currency"], "total_price": money(snap["total_price"]),
        "total_received": money(snap["total_received"]), "total_refunded": money(snap["total_refunded"]),
        "total_outstanding": money(snap["total_outstanding"]), "updated_at": when(snap["updated_at"]),
        "line_items": sorted((li["id"], li["sku"], li["quantity"]) for li in snap["line_items"]),
        "fulfillment_orders": sorted(
            (fo["id"], fo["status"], fo["request_status"]) for fo in snap["fulfillment_orders"]
        ),
        "refund_count": snap["refund_count"],
    }  # fmt: skip


@pytest.mark.slow
def test_ledger_equals_the_sandbox_after_lost_duplicated_shuffled_webhooks_and_one_sweep(
    sandbox: ShopifySandbox, shop: Shop, committed_db: Engine
) -> None:
    client = _client(sandbox)
    with serve_app(create_app()) as base_url:
        for topic in TOPICS:
            sandbox.control.subscribe(topic, f"{base_url}/webhooks/shopify")
        sandbox.control.set_faults(webhook_drop_rate=0.2, webhook_duplicate_rate=0.2, webhook_out_of_order=True)
        created = _drive_activity(sandbox, client)
        assert sandbox.control.wait_for_webhooks(timeout=30)
        inbox.drain(session_scope)
    attempts = sandbox.control.deliveries()
    dropped = {a["webhook_id"] for a in attempts if a["outcome"] == "dropped"}
    delivered = [a["webhook_id"] for a in attempts if a["outcome"] == "delivered"]
    assert dropped, "the fault switch dropped no webhook: the test would prove nothing"
    assert len(delivered) > len(set(delivered)), "no webhook was delivered twice"

    result = reconcile.reconcile_shop(session_scope, shop.id, client, dt.timedelta(minutes=5))
    assert result.drift > 0  # the sweep found what the lost webhooks never said

    with Session(committed_db) as session:
        orders = {o.shopify_gid: o for o in session.scalars(select(Order).where(Order.shop_id == shop.id))}
        expected_gids = {sandbox.control.snapshot(g)["id"] for g in orders} | set(created)
        assert set(orders) == expected_gids
        assert len(orders) == 25 + 12
        for gid, order in orders.items():
            assert _ledger_view(order) == _sandbox_view(sandbox.control.snapshot(gid)), gid
            refunds = session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.order_id == order.id, LedgerEntry.kind == "customer_refund")
            )  # fmt: skip
            assert Decimal(refunds) == order.total_refunded, gid
        duplicates = session.execute(
            select(LedgerEntry.source_ref, func.count()).group_by(LedgerEntry.source_ref).having(func.count() > 1)
        ).all()
        assert duplicates == []
    client.close()
