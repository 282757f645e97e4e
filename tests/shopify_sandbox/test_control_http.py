"""The control API over HTTP mirrors ``sandbox.control``; errors are one-line JSON with 4xx."""

from __future__ import annotations

import httpx

from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import data


def test_control_endpoints(shopify_sandbox: ShopifySandbox) -> None:
    base = f"{shopify_sandbox.base_url}/_sandbox"
    assert httpx.get(f"{base}/health").json() == {"ok": True, "orders": 50}
    created = httpx.post(f"{base}/orders", json={"status": "paid", "aliexpress_order_id": "8000000000000001"}).json()[
        "id"
    ]
    snapshot = httpx.get(f"{base}/orders/{created.rsplit('/', 1)[1]}").json()
    assert snapshot["aliexpress_order_id"] == "8000000000000001"
    assert snapshot["financial_status"] == "PAID"
    for action in ("submit", "accept"):
        assert (
            httpx.post(f"{base}/orders/{snapshot['name'].lstrip('#')}/fulfillment/{action}", json={}).status_code == 404
        )
        assert httpx.post(f"{base}/orders/%23{snapshot['name'][1:]}/fulfillment/{action}", json={}).status_code == 200
    shipped = httpx.post(
        f"{base}/orders/%23{snapshot['name'][1:]}/fulfillment/fulfill", json={"tracking_number": "YT1"}
    )
    assert shipped.json()["fulfillment_status"] == "FULFILLED"
    cancel = "mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true) { job { id } } }"
    data(shopify_sandbox, cancel, {"id": created})
    seen = httpx.get(f"{base}/orders/%23{snapshot['name'][1:]}/mutations").json()
    assert seen["counts"] == {"orderCancel": 1}
    assert seen["mutations"][0]["applied"] is False


def test_control_errors_are_one_line(shopify_sandbox: ShopifySandbox) -> None:
    base = f"{shopify_sandbox.base_url}/_sandbox"
    missing = httpx.get(f"{base}/orders/%23999999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such order: #999999"}
    bad = httpx.post(f"{base}/faults", json={"error_rate": 5})
    assert bad.status_code == 400
    assert "error_rate" in bad.json()["error"]
    assert httpx.post(f"{base}/orders", content=b"not json").status_code == 400
    assert httpx.post(f"{base}/orders", json={"status": "teleported"}).status_code == 400


def test_faults_throttle_and_reset_over_http(shopify_sandbox: ShopifySandbox) -> None:
    base = f"{shopify_sandbox.base_url}/_sandbox"
    assert httpx.post(f"{base}/faults", json={"latency_seconds": 0.01}).json()["latency_seconds"] == 0.01
    assert httpx.post(f"{base}/throttle/drain").json()["currentlyAvailable"] < 5
    throttled = httpx.post(
        shopify_sandbox.graphql_url(),
        json={"query": "{ orders(first: 50) { nodes { id } } }"},
        headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token},
    ).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    httpx.post(f"{base}/orders/%231001/touch", json={"note": "x"})
    assert httpx.post(f"{base}/reset").json() == {"ok": True}
    assert httpx.get(f"{base}/faults").json()["latency_seconds"] == 0.0
    assert httpx.get(f"{base}/orders/%231001").json()["updated_at"] < "2026-12"
    assert httpx.get(f"{base}/throttle").json()["currentlyAvailable"] == 2000.0
    assert shopify_sandbox.state.materialized == {}


def test_a_long_order_s_shipment_pages_its_lines(shopify_sandbox: ShopifySandbox) -> None:
    """Up to 50 lines (the catalogue's 12 products repeated); Shopify's ``fulfillment(id:)`` root field
    pages a fulfillment's lines like any connection; 51 lines are refused with the limit."""
    base = f"{shopify_sandbox.base_url}/_sandbox"
    created = httpx.post(f"{base}/orders", json={"status": "fulfilled", "line_items": 25}).json()
    query = """query($id: ID!) { order(id: $id) { lineItems(first: 50) { nodes { id } }
        fulfillments { id fulfillmentLineItems(first: 20) { pageInfo { hasNextPage endCursor } nodes { id } } } } }"""
    order = data(shopify_sandbox, query, {"id": created["id"]})["order"]
    assert len(order["lineItems"]["nodes"]) == 25
    [shipment] = order["fulfillments"]
    first = shipment["fulfillmentLineItems"]
    assert first["pageInfo"]["hasNextPage"] is True
    page = """query($id: ID!, $after: String) { fulfillment(id: $id) {
        fulfillmentLineItems(first: 50, after: $after) { pageInfo { hasNextPage } nodes { id lineItem { id } } } } }"""
    rest = data(shopify_sandbox, page, {"id": shipment["id"], "after": first["pageInfo"]["endCursor"]})
    more = rest["fulfillment"]["fulfillmentLineItems"]
    assert more["pageInfo"]["hasNextPage"] is False
    assert len({n["id"] for n in first["nodes"] + more["nodes"]}) == 25
    assert [n["lineItem"]["id"] for n in more["nodes"]] == [n["id"] for n in order["lineItems"]["nodes"][20:]]
    refused = httpx.post(f"{base}/orders", json={"status": "paid", "line_items": 51})
    assert refused.status_code == 400
    assert "line_items must be between 1 and 50" in refused.json()["error"]


def test_an_order_split_into_fulfillment_orders(shopify_sandbox: ShopifySandbox) -> None:
    """``fulfillment_orders`` shares an order's lines out as ``fulfillmentOrderSplit`` would; the control's
    fulfillment actions take the one at a position; GraphQL pages them like any connection."""
    base = f"{shopify_sandbox.base_url}/_sandbox"
    created = httpx.post(f"{base}/orders", json={"status": "paid", "line_items": 5, "fulfillment_orders": 3}).json()
    number = created["id"].rsplit("/", 1)[1]
    accepted = httpx.post(f"{base}/orders/{number}/fulfillment/submit", json={"fulfillment_order": 3})
    assert [fo["request_status"] for fo in accepted.json()["fulfillment_orders"]] == [
        "UNSUBMITTED", "UNSUBMITTED", "SUBMITTED",
    ]  # fmt: skip
    query = """query($id: ID!, $after: String) { order(id: $id) { fulfillmentOrders(first: 2, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { id requestStatus lineItems(first: 10) { nodes { id } } } } } }"""
    first = data(shopify_sandbox, query, {"id": created["id"]})["order"]["fulfillmentOrders"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(shopify_sandbox, query, {"id": created["id"], "after": first["pageInfo"]["endCursor"]})
    nodes = first["nodes"] + rest["order"]["fulfillmentOrders"]["nodes"]
    assert [len(n["lineItems"]["nodes"]) for n in nodes] == [2, 2, 1]  # every line in exactly one
    assert len({li["id"] for n in nodes for li in n["lineItems"]["nodes"]}) == 5
    assert nodes[2]["requestStatus"] == "SUBMITTED"
    for body, message in (
        ({"status": "paid", "line_items": 2, "fulfillment_orders": 3}, "between 1 and the order's number of line"),
        ({"status": "fulfilled", "line_items": 2, "fulfillment_orders": 2}, "cannot be split"),
    ):
        refused = httpx.post(f"{base}/orders", json=body)
        assert refused.status_code == 400
        assert message in refused.json()["error"]
    wrong = httpx.post(f"{base}/orders/{number}/fulfillment/accept", json={"fulfillment_order": 4})
    assert wrong.status_code == 400
    name = accepted.json()["name"]
    assert wrong.json() == {"error": f"fulfillment_order must be a position from 1 to 3 for order {name}"}
