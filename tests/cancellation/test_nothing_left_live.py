"""Played as an operator against the real stack (receiver, worker and beat as processes; both sandboxes):
the merchant refunds an unshipped order in full in Shopify's admin (the money only, or item by item as the
admin usually does), then the customer asks to cancel it.

dropsync accepts the cancellation without a refund, has the seller asked, and once the seller's
cancellation is seen by a poll, cancels the order on Shopify: the only refund on Shopify stays the
merchant's (no money moves twice), and the goods are not shipped to a customer who has the money back.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, Order
from sandboxes.demo import story
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.test_nothing_left_to_refund import (
    _refund_every_item_in_the_admin,
    _refund_everything_in_the_admin,
)
from tests.cli.support import dropsync
from tests.crosscheck.conftest import stack
from tests.support import live_stack as live
from tests.support.live_stack import BEAT, LiveStack
from worker.db import session_scope
from worker.mirror.reconcile import read_for_mirror

pytestmark = [pytest.mark.slow, pytest.mark.redis]
__all__ = ["stack"]


def _shopify_order(shopify: ShopifySandbox, gid: str) -> dict[str, Any]:
    with _client(shopify) as client:
        node = read_for_mirror(client, gid)
    assert node is not None
    return node


def _client(shopify: ShopifySandbox) -> ShopifyClient:
    return ShopifyClient(shopify.config.shop_domain, shopify.config.access_token, api_url=shopify.base_url)


REFUNDS = {"money only": _refund_everything_in_the_admin, "item by item": _refund_every_item_in_the_admin}


def _refunded_in_ledger(order_id: int) -> Decimal:
    with session_scope() as session:
        return session.scalars(select(Order.total_refunded).where(Order.id == order_id)).one()


def _ask_seller_alert(order_id: int) -> Alert | None:
    with session_scope() as session:
        query = select(Alert).where(Alert.order_id == order_id, Alert.kind == "cancellation_ask_seller")
        return session.scalars(query).first()


@pytest.mark.parametrize("how", list(REFUNDS))
def test_an_order_refunded_in_the_admin_is_cancelled_on_shopify_without_a_second_refund(
    stack: LiveStack, how: str
) -> None:
    running_stack, _, _ = stack
    shopify, aliexpress = live.sandboxes(running_stack)
    cast = story.Cast()
    gid = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("8.00"))
    story.sweep(running_stack, [gid], shopify.state.total_count, 60)
    story.poll_suppliers(running_stack, cast, 60)
    assert live.supplier(gid).status == "awaiting_shipment"
    order_id, name = live.order(gid)

    with _client(shopify) as client:
        REFUNDS[how](client, gid)
    refunds = _shopify_order(shopify, gid)["refunds"]
    paid = sum((Decimal(r["totalRefundedSet"]["shopMoney"]["amount"]) for r in refunds), Decimal(0))
    live.wait("the admin's refund in the ledger", lambda: _refunded_in_ledger(order_id) == paid, BEAT * 3)

    asked = dropsync("cancel", "request", name, "--reason", "changed_mind")
    assert asked.code == 0, asked.err
    assert "policy says cancel, refund 0.00" in asked.out
    assert "cancelled without a refund: the customer already has the money back" in " ".join(asked.out.split())
    match = re.search(r"request (\d+):", asked.out)
    assert match is not None, asked.out
    request_id = int(match.group(1))

    # The seller must be asked first (the goods would ship otherwise): an alert says so, with the order.
    alert = live.wait("the ask-the-seller alert", lambda: _ask_seller_alert(order_id), BEAT * 3)
    assert cast.supplier_ids[gid] in alert.message
    story.ask_seller_to_cancel(running_stack, gid, cast.supplier_ids[gid])
    aliexpress.seller_accepts_cancellation(cast.supplier_ids[gid])
    story._poll_one(gid)
    live.wait("the request done", lambda: story.request_state(request_id, "done"), BEAT * 6)

    node = _shopify_order(shopify, gid)
    assert node["cancelledAt"] is not None
    assert [r["id"] for r in node["refunds"]] == [r["id"] for r in refunds]  # the admin's only: no money moved again
    status = dropsync("cancel", "status", str(request_id))
    assert status.code == 0, status.err
    assert "done" in status.out
