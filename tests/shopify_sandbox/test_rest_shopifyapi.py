"""Other people's Shopify code, unchanged, against the sandbox: ShopifyAPI's REST resources and GraphQL.

ShopifyAPI builds its site from the shop name: ``{protocol}://{shop}.{myshopify_domain}:{port}``, with the
three knobs public on ``shopify.Session.setup``. ``127.0.0.1`` split at its first dot is the shop ``127`` on
the domain ``0.0.1``, so plain HTTP on the loopback needs no hosts entry and no change to the library.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import shopify

from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import data

OLD_VERSION = "2024-10"  # the newest ShopifyAPI 12.7 knows; Shopify no longer supports it in 2026-10


@pytest.fixture
def rest_session(shopify_sandbox: ShopifySandbox) -> Iterator[ShopifySandbox]:
    """ShopifyAPI's global session pointed at the sandbox (and put back afterwards)."""
    assert shopify_sandbox.base_url is not None
    port = shopify_sandbox.base_url.rsplit(":", 1)[1]
    shopify.Session.setup(protocol="http", myshopify_domain="0.0.1", port=port)
    session = shopify.Session("127.0.0.1", OLD_VERSION, shopify_sandbox.config.access_token)
    shopify.ShopifyResource.activate_session(session)
    try:
        yield shopify_sandbox
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.setup(protocol="https", myshopify_domain="myshopify.com", port=None)


def _graphql_orders(sandbox: ShopifySandbox) -> dict[int, dict[str, Any]]:
    """Every order as GraphQL sees it, by numeric id."""
    query = """query($after: String) { orders(first: 50, after: $after) {
      nodes { legacyResourceId name displayFinancialStatus totalPriceSet { shopMoney { amount } }
              totalReceivedSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } } }
      pageInfo { hasNextPage endCursor } } }"""
    found: dict[int, dict[str, Any]] = {}
    after = None
    while True:
        page = data(sandbox, query, {"after": after})["orders"]
        found.update({int(node["legacyResourceId"]): node for node in page["nodes"]})
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_shop_current_and_access_scopes(rest_session: ShopifySandbox) -> None:
    shop = shopify.Shop.current()
    assert shop.myshopify_domain == rest_session.config.shop_domain
    assert shop.currency == "USD"
    assert shop.plan_name == "basic"
    scopes = {scope.handle for scope in shopify.AccessScope.find()}
    assert {"read_orders", "write_orders", "read_all_orders"} <= scopes


def test_order_find_follows_every_page_info_page_and_sees_every_order_once(rest_session: ShopifySandbox) -> None:
    rest_session.control.delete_order("#1005")
    rest_session.control.touch_order("#1040", note="moved to the end of an updated_at walk")
    expected = _graphql_orders(rest_session)
    seen: list[int] = []
    pages = 0
    page = shopify.Order.find(status="any", limit=7, order="updated_at asc")
    while True:
        pages += 1
        seen.extend(order.id for order in page)
        if not page.has_next_page():
            break
        page = page.next_page()
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen)) == 49
    assert pages == 7
    back = page.previous_page()  # rel="previous" from the last page gives the page before it, in order
    assert [order.id for order in back] == seen[-14:-7]
    assert shopify.Order.count(status="any") == 49
    open_count = data(rest_session, '{ ordersCount(query: "status:open") { count } }')["ordersCount"]["count"]
    assert shopify.Order.count() == open_count  # REST's default status is open, as on Shopify


def test_order_money_and_transactions_match_graphql(rest_session: ShopifySandbox) -> None:
    expected = _graphql_orders(rest_session)
    for order in shopify.Order.find(status="any", limit=250):
        mine = expected[order.id]
        assert order.name == mine["name"]
        assert order.total_price == mine["totalPriceSet"]["shopMoney"]["amount"]
        assert order.financial_status == mine["displayFinancialStatus"].lower()
        if order.id % 5:
            continue  # a sample: the REST bucket holds 40 requests on the standard plan
        transactions = order.transactions()
        received = sum(
            (Decimal(t.amount) for t in transactions if t.kind in ("sale", "capture") and t.status == "success"),
            Decimal("0.00"),
        )
        refunded = sum((Decimal(t.amount) for t in transactions if t.kind == "refund"), Decimal("0.00"))
        assert str(received) == mine["totalReceivedSet"]["shopMoney"]["amount"], order.name
        assert str(refunded) == mine["totalRefundedSet"]["shopMoney"]["amount"], order.name
        if order.id % 10 == 0:
            assert shopify.Order.find(order.id).to_dict() == order.to_dict()


def test_shopifyapi_graphql_unchanged_pages_every_order_once(rest_session: ShopifySandbox) -> None:
    query = """query($after: String) { shop { myshopifyDomain }
      orders(first: 20, after: $after) { nodes { legacyResourceId } pageInfo { hasNextPage endCursor } } }"""
    client = shopify.GraphQL()
    seen: list[int] = []
    after = None
    while True:
        answer = json.loads(client.execute(query, {"after": after}))
        assert answer["data"]["shop"]["myshopifyDomain"] == rest_session.config.shop_domain
        page = answer["data"]["orders"]
        seen.extend(int(node["legacyResourceId"]) for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rest_ids = [order.id for order in shopify.Order.find(status="any", limit=250)]
    assert sorted(seen) == sorted(rest_ids)
    assert len(seen) == len(set(seen)) == 50
