"""Reading orders: schema validation, pagination, search filters, auth, determinism."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from integrations.shopify.schema import validate_document
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import ORDERS_PAGE, all_orders, data, gql, post

FULL_ORDER = """
query One($id: ID!) {
  order(id: $id) {
    id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason closed email
    currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus tags note
    customAttributes { key value }
    subtotalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    totalTaxSet { shopMoney { amount } } totalDiscountsSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
    totalOutstandingSet { shopMoney { amount } } totalReceivedSet { shopMoney { amount } }
    customer { id firstName lastName email }
    shippingAddress { city countryCodeV2 zip }
    lineItems(first: 10) { nodes { id sku title quantity currentQuantity unfulfilledQuantity refundableQuantity
      originalUnitPriceSet { shopMoney { amount } presentmentMoney { amount currencyCode } }
      discountedTotalSet { shopMoney { amount } } taxLines { rate priceSet { shopMoney { amount } } } } }
    transactions { id kind status gateway parentTransaction { id } amountSet { shopMoney { amount } } }
    fulfillmentOrders(first: 5) { nodes { id status requestStatus assignedLocation { name location { id } }
      lineItems(first: 10) { nodes { id totalQuantity remainingQuantity lineItem { id } } } } }
    fulfillments { id status trackingInfo { company number url } }
    refunds { id createdAt totalRefundedSet { shopMoney { amount } }
      refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } }
      transactions(first: 5) { nodes { id kind parentTransaction { id } } } }
  }
}
"""


def test_full_order_document_is_valid_for_shopify_and_answered(shopify_sandbox: ShopifySandbox) -> None:
    assert validate_document(FULL_ORDER) == []
    order = data(shopify_sandbox, FULL_ORDER, {"id": "gid://shopify/Order/5000000000003"})["order"]
    assert order["name"] == "#1004"
    assert order["lineItems"]["nodes"], "every order has line items"
    total = sum(float(i["discountedTotalSet"]["shopMoney"]["amount"]) for i in order["lineItems"]["nodes"])
    tax = sum(float(t["priceSet"]["shopMoney"]["amount"]) for i in order["lineItems"]["nodes"] for t in i["taxLines"])
    shipping = float(order["totalShippingPriceSet"]["shopMoney"]["amount"])
    assert round(total + tax + shipping, 2) == float(order["totalPriceSet"]["shopMoney"]["amount"])


def _order(sandbox: ShopifySandbox, index: int) -> dict[str, Any]:
    sandbox.control.refill_bucket()
    result: dict[str, Any] = data(sandbox, FULL_ORDER, {"id": f"gid://shopify/Order/{5000000000000 + index}"})["order"]
    return result


def test_seeded_shop_is_realistic(shopify_sandbox: ShopifySandbox) -> None:
    orders = [_order(shopify_sandbox, i) for i in range(50)]
    statuses = {o["displayFinancialStatus"] for o in orders}
    assert {"PAID", "AUTHORIZED"} <= statuses
    assert any(o["cancelledAt"] for o in orders)
    assert any(o["fulfillments"] and o["fulfillments"][0]["trackingInfo"] for o in orders)
    assert any(o["refunds"] for o in orders)
    assert any(o["presentmentCurrencyCode"] != o["currencyCode"] for o in orders)
    kinds = {t["kind"] for o in orders for t in o["transactions"]}
    assert {"AUTHORIZATION", "CAPTURE", "SALE"} <= kinds
    linked = [a["value"] for o in orders for a in o["customAttributes"] if a["key"] == "aliexpress_order_id"]
    assert linked
    assert all(value.isdigit() for value in linked)
    locations = {fo["assignedLocation"]["name"] for o in orders for fo in o["fulfillmentOrders"]["nodes"]}
    assert locations == {"AliExpress Dropshipping"}


def test_pages_cover_every_order_exactly_once(shopify_sandbox: ShopifySandbox) -> None:
    for sort in ("ID", "CREATED_AT", "UPDATED_AT"):
        ids = [o["id"] for o in all_orders(shopify_sandbox, page_size=7, sortKey=sort)]
        assert len(ids) == 50, sort
        assert len(set(ids)) == 50, sort
    reverse = [o["id"] for o in all_orders(shopify_sandbox, page_size=9, sortKey="ID", reverse=True)]
    assert reverse == sorted(reverse, reverse=True)
    assert len(reverse) == 50


def test_pagination_while_orders_are_updated_misses_nothing(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    seen: list[str] = []
    after = None
    touched = 0
    while True:
        page = data(shopify_sandbox, ORDERS_PAGE, {"first": 6, "after": after, "sortKey": "CREATED_AT"})["orders"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        # Between pages, update orders on both sides of the cursor and create a new one.
        control.touch_order(f"#{1001 + touched}", note=f"edit {touched}")
        control.touch_order(f"#{1049 - touched}", note=f"edit {touched}")
        touched += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)), "no order twice under a stable sort key"
    assert {f"gid://shopify/Order/{5000000000000 + i}" for i in range(50)} <= set(seen)


def test_updated_at_window_sees_every_change(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    since = datetime.fromisoformat(control.touch_order("#1010", note="first"))
    control.touch_order("#1003", note="second")
    created = control.create_order(status="paid")
    window = all_orders(shopify_sandbox, page_size=2, sortKey="UPDATED_AT", query=f"updated_at:>='{since.isoformat()}'")
    assert [o["name"] for o in window][:2] == ["#1010", "#1003"]
    assert window[-1]["id"] == created
    stamps = [o["updatedAt"] for o in window]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps), "updatedAt strictly increases per change"


def test_search_filters(shopify_sandbox: ShopifySandbox) -> None:
    def names(query: str) -> set[str]:
        return {o["name"] for o in all_orders(shopify_sandbox, page_size=50, query=query)}

    everyone = all_orders(shopify_sandbox, page_size=50)
    paid = {o["name"] for o in everyone if o["displayFinancialStatus"] == "PAID"}
    cancelled = {o["name"] for o in everyone if o["cancelledAt"]}
    fulfilled = {o["name"] for o in everyone if o["displayFulfillmentStatus"] == "FULFILLED"}
    assert names("financial_status:paid") == paid
    assert names("status:cancelled") == cancelled
    assert names("fulfillment_status:shipped") == fulfilled
    assert names("financial_status:paid AND -status:cancelled") == paid - cancelled
    middle = everyone[20]["createdAt"]
    assert names(f"created_at:<'{middle}'") == {o["name"] for o in everyone[:20]}


def test_bad_search_and_page_size_are_refused_clearly(shopify_sandbox: ShopifySandbox) -> None:
    body = gql(shopify_sandbox, '{ orders(first: 5, query: "sku:ABC") { nodes { id } } }')
    assert "not supported by the sandbox" in body["errors"][0]["message"]
    body = gql(shopify_sandbox, "{ orders(first: 251) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    body = gql(shopify_sandbox, '{ orders(first: 5, after: "garbage") { nodes { id } } }')
    assert "Invalid cursor" in body["errors"][0]["message"]


def test_node_and_children_by_global_id(shopify_sandbox: ShopifySandbox) -> None:
    order = _order(shopify_sandbox, 7)
    fo_id = order["fulfillmentOrders"]["nodes"][0]["id"]
    line_id = order["lineItems"]["nodes"][0]["id"]
    found = data(
        shopify_sandbox,
        "query($a: ID!, $b: ID!, $c: ID!) { a: node(id: $a) { id ... on FulfillmentOrder { status } } "
        "b: node(id: $b) { ... on LineItem { sku } } c: fulfillmentOrder(id: $a) { orderName } "
        "d: order(id: $c) { name } }",
        {"a": fo_id, "b": line_id, "c": "gid://shopify/Order/1"},
    )
    assert found["a"]["id"] == fo_id
    assert found["b"]["sku"]
    assert found["c"]["orderName"] == "#1008"
    assert found["d"] is None


def test_auth_and_version(shopify_sandbox: ShopifySandbox) -> None:
    response = post(shopify_sandbox, "{ orders(first: 1) { nodes { id } } }", **{"X-Shopify-Access-Token": "wrong"})
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]
    # A well-formed but unsupported version falls forward to the oldest supported one, as on Shopify.
    other = shopify_sandbox.graphql_url().replace("2026-10", "2024-01")
    answer = httpx.post(
        other,
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token},
    )
    assert answer.status_code == 200
    assert answer.headers["x-shopify-api-version"] == "2025-10"
    malformed = shopify_sandbox.graphql_url().replace("2026-10", "latest")
    token = {"X-Shopify-Access-Token": shopify_sandbox.config.access_token}
    assert httpx.post(malformed, json={"query": "{ shop { name } }"}, headers=token).json() == {"errors": "Not Found"}


def test_same_seed_same_orders_million_orders_start_fast() -> None:
    import time

    started = time.perf_counter()
    big = ShopifySandbox(SandboxConfig(seed=9, orders=1_000_000))
    again = ShopifySandbox(SandboxConfig(seed=9, orders=1_000_000, clock_start=big.config.clock_start))
    assert time.perf_counter() - started < 5  # generous: construction builds no orders
    assert big.state.seeder.window_end == big.state.seeder.window_end
    first = big.state.get(999_999)
    assert first is not None
    assert first.name == "#1001000"
    other = ShopifySandbox(SandboxConfig(seed=9, orders=1_000_000, clock_start=big.state.seeder.window_end))
    assert other.state.get(5) is not None
    assert again.state.get(7) is not None
    pinned = {"clock_start": datetime(2026, 11, 1).astimezone()}
    a = ShopifySandbox(SandboxConfig(seed=3, orders=10, **pinned)).state.get(4)
    b = ShopifySandbox(SandboxConfig(seed=3, orders=10, **pinned)).state.get(4)
    c = ShopifySandbox(SandboxConfig(seed=4, orders=10, **pinned)).state.get(4)
    assert a == b
    assert a != c
    assert len(big.state.materialized) == 0


def test_invalid_documents_get_shopify_shaped_errors(shopify_sandbox: ShopifySandbox) -> None:
    undefined = gql(shopify_sandbox, "query Orders { orders(first: 2) { edges { node { id foo } } } }")["errors"][0]
    assert undefined == {
        "message": "Field 'foo' doesn't exist on type 'Order'",
        "locations": [{"line": 1, "column": 53}],
        "path": ["query Orders", "orders", "edges", "node", "foo"],
        "extensions": {"code": "undefinedField", "typeName": "Order", "fieldName": "foo"},
    }
    argument = gql(shopify_sandbox, "{ orders(first: 1, bogus: 1) { nodes { id } } }")["errors"][0]
    assert argument["extensions"]["code"] == "argumentNotAccepted"
    missing = gql(shopify_sandbox, 'mutation { orderCancel(orderId: "x", restock: true) { job { id } } }')["errors"][0]
    assert missing["message"] == "Field 'orderCancel' is missing required arguments: reason"
    assert missing["extensions"]["code"] == "missingRequiredArguments"
    leaf = gql(shopify_sandbox, "{ orders(first: 1) { nodes { lineItems } } }")["errors"][0]
    assert leaf["extensions"]["code"] == "selectionMismatch"
    syntax = gql(shopify_sandbox, "{ orders(first: 1) { nodes { id }")["errors"][0]
    assert syntax["message"].startswith("syntax error, ")
    assert syntax["locations"]
    variable = gql(shopify_sandbox, "query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": "x"})["errors"][0]
    assert variable["extensions"]["code"] == "variableMismatch"


def test_unsupported_fields_are_refused_before_anything_runs(shopify_sandbox: ShopifySandbox) -> None:
    body = gql(shopify_sandbox, "{ orders(first: 1) { nodes { id retailLocation { id } } } }")
    assert "data" not in body
    assert body["errors"][0]["message"] == "not supported by the sandbox: Order.retailLocation"
    assert body["errors"][0]["extensions"]["code"] == "NOT_SUPPORTED_BY_SANDBOX"
    mutation = 'mutation { orderClose(input: { id: "gid://shopify/Order/5000000000001" }) { order { id } } }'
    assert "not supported by the sandbox: Mutation.orderClose" in gql(shopify_sandbox, mutation)["errors"][0]["message"]
    assert shopify_sandbox.control.mutations() == []


def test_updated_at_sort_while_updating_sees_every_order(shopify_sandbox: ShopifySandbox) -> None:
    """Under UPDATED_AT an order updated mid-walk moves behind the cursor: seen again, never lost."""
    control = shopify_sandbox.control
    seen: list[str] = []
    after = None
    step = 0
    while True:
        variables = {"first": 8, "after": after, "sortKey": "UPDATED_AT"}
        page = data(shopify_sandbox, ORDERS_PAGE, variables)["orders"]
        seen.extend(edge["node"]["name"] for edge in page["edges"])
        if step < 3:
            control.touch_order(seen[0], note=f"moved {step}")  # already read: it comes around again
            control.touch_order(f"#{1050 - step}", note="ahead")  # not read yet: read once, later
        step += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert {f"#{1001 + i}" for i in range(50)} <= set(seen)
    assert seen.count(seen[0]) >= 2
    assert seen.count("#1050") == 1


def test_orders_count_matches_the_listing(shopify_sandbox: ShopifySandbox) -> None:
    paid = [o for o in all_orders(shopify_sandbox, page_size=50) if o["displayFinancialStatus"] == "PAID"]
    counts = data(
        shopify_sandbox,
        '{ all: ordersCount { count precision } paid: ordersCount(query: "financial_status:paid") { count } '
        "capped: ordersCount(limit: 10) { count precision } }",
    )
    assert counts["all"] == {"count": 50, "precision": "EXACT"}
    assert counts["paid"]["count"] == len(paid)
    assert counts["capped"] == {"count": 10, "precision": "AT_LEAST"}


def test_backward_pages_with_last_and_before(shopify_sandbox: ShopifySandbox) -> None:
    query = """query($last: Int!, $before: String) { orders(last: $last, before: $before) {
      nodes { name } pageInfo { hasPreviousPage hasNextPage startCursor } } }"""
    names: list[str] = []
    before = None
    while True:
        page = data(shopify_sandbox, query, {"last": 12, "before": before})["orders"]
        names = [node["name"] for node in page["nodes"]] + names
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert names == [f"#{1001 + i}" for i in range(50)]


def test_unimplemented_arguments_are_refused_not_ignored(shopify_sandbox: ShopifySandbox) -> None:
    order = (
        '{ order(id: "gid://shopify/Order/5000000000001") '
        '{ fulfillmentOrders(first: 2, query: "x") { nodes { id } } } }'
    )
    assert gql(shopify_sandbox, order)["errors"][0]["message"] == (
        "not supported by the sandbox: Order.fulfillmentOrders(query:)"
    )
    partial = (
        'mutation { fulfillmentOrderSubmitFulfillmentRequest(id: "gid://shopify/FulfillmentOrder/6000000000000", '
        'fulfillmentOrderLineItems: [{id: "gid://shopify/FulfillmentOrderLineItem/16000000000000", quantity: 1}]) '
        "{ userErrors { message } } }"
    )
    error = gql(shopify_sandbox, partial)["errors"][0]
    assert error["extensions"]["code"] == "NOT_SUPPORTED_BY_SANDBOX"
    assert shopify_sandbox.control.mutations() == []


def test_has_next_page_skips_deleted_orders(shopify_sandbox: ShopifySandbox) -> None:
    """``hasNextPage`` is decided without building the next order, but a deleted one is not "next"."""
    shopify_sandbox.control.delete_order("#1050")
    shopify_sandbox.control.delete_order("#1049")
    page = data(shopify_sandbox, ORDERS_PAGE, {"first": 48})["orders"]
    assert len(page["edges"]) == 48
    assert page["pageInfo"]["hasNextPage"] is False
    page = data(shopify_sandbox, ORDERS_PAGE, {"first": 47})["orders"]
    assert page["pageInfo"]["hasNextPage"] is True
    tagged = data(shopify_sandbox, ORDERS_PAGE, {"first": 1, "query": "status:open"})["orders"]
    assert tagged["pageInfo"]["hasNextPage"] is True


def test_a_document_sent_again_is_checked_once_and_answers_by_its_own_variables(
    shopify_sandbox: ShopifySandbox,
) -> None:
    checked = shopify_sandbox.executor._checked
    two = "query Pick($n: Int!) { orders(first: $n) { nodes { id } } } query One { orders(first: 1) { nodes { id } } }"
    before = checked.cache_info()
    unnamed = gql(shopify_sandbox, two, {"n": 2})
    # the same text: parsed and validated once, run by each request with its own variables and operation
    picked = gql(shopify_sandbox, two, {"n": 3}, "Pick")
    one = gql(shopify_sandbox, two, operation_name="One")
    assert unnamed["errors"][0]["message"] == "An operation name is required"
    assert len(picked["data"]["orders"]["nodes"]) == 3
    assert len(one["data"]["orders"]["nodes"]) == 1
    after = checked.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    # a refused text is refused again each time, never remembered as valid
    bad = "{ orders(first: 1) { nodes { id foo } } }"
    assert gql(shopify_sandbox, bad)["errors"] == gql(shopify_sandbox, bad)["errors"]
    assert gql(shopify_sandbox, bad)["errors"][0]["extensions"]["code"] == "undefinedField"
    lacking = "{ orders(first: 1) { nodes { id retailLocation { id } } } }"
    codes = [gql(shopify_sandbox, lacking)["errors"][0]["extensions"]["code"] for _ in range(2)]
    assert codes == ["NOT_SUPPORTED_BY_SANDBOX"] * 2
