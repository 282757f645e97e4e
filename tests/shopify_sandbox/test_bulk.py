"""Bulk operations: JSONL with __parentId served by the sandbox, status polling, finish webhook, bulk rules."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from integrations.shopify.schema import validate_document
from sandboxes.shopify import ShopifySandbox, bulk
from tests.shopify_sandbox.helpers import Receiver, all_orders, data

RUN = """
mutation($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""
EXPORT = """
{
  orders(query: "updated_at:>='2020-01-01'") {
    edges { node {
      id name updatedAt displayFinancialStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customAttributes { key value }
      lineItems { edges { node { id sku quantity } } }
      fulfillmentOrders { edges { node { id status requestStatus } } }
    } }
  }
}
"""
STATUS = "{ currentBulkOperation { id status objectCount rootObjectCount fileSize url errorCode completedAt } }"


def _wait(sandbox: ShopifySandbox) -> dict[str, Any]:
    for _ in range(200):
        current: dict[str, Any] = data(sandbox, STATUS)["currentBulkOperation"]
        if current["status"] not in ("CREATED", "RUNNING"):
            return current
        time.sleep(0.05)
    raise AssertionError("bulk operation did not finish")


def test_export_rows_and_parent_links(shopify_sandbox: ShopifySandbox) -> None:
    assert validate_document(RUN) == []
    assert validate_document(EXPORT) == []
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("bulk_operations/finish", receiver.url)
        started = data(shopify_sandbox, RUN, {"query": EXPORT})["bulkOperationRunQuery"]
        assert started["userErrors"] == []
        done = _wait(shopify_sandbox)
        receiver.wait_for(1)
    assert done["status"] == "COMPLETED"
    assert done["id"] == started["bulkOperation"]["id"]
    rows = [json.loads(line) for line in httpx.get(done["url"]).text.splitlines()]
    assert int(done["objectCount"]) == len(rows)
    orders = [row for row in rows if "__parentId" not in row]
    assert int(done["rootObjectCount"]) == len(orders) == 50
    seen: set[str] = set()
    for row in rows:
        if "__parentId" in row:
            assert row["__parentId"] in seen, "a child follows its parent"
        else:
            seen.add(row["id"])
    assert any(row["id"].startswith("gid://shopify/LineItem/") for row in rows)
    assert any(row["id"].startswith("gid://shopify/FulfillmentOrder/") for row in rows)
    finish = json.loads(receiver.deliveries[0]["body"])
    assert receiver.topics() == ["bulk_operations/finish"]
    assert finish["admin_graphql_api_id"] == done["id"]
    assert finish["status"] == "completed"
    by_id = data(shopify_sandbox, "query($id: ID!) { bulkOperation(id: $id) { status } }", {"id": done["id"]})
    assert by_id["bulkOperation"]["status"] == "COMPLETED"


def test_export_sees_mutations(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.control.touch_order("#1003", note="changed")
    created = shopify_sandbox.control.create_order(status="paid")
    data(shopify_sandbox, RUN, {"query": "{ orders { edges { node { id note } } } }"})
    rows = [json.loads(line) for line in httpx.get(_wait(shopify_sandbox)["url"]).text.splitlines()]
    assert {"id": created, "note": None} in rows
    assert any(row["note"] == "changed" for row in rows)


def test_bulk_rules(shopify_sandbox: ShopifySandbox) -> None:
    def refused(query: str) -> str:
        result = data(shopify_sandbox, RUN, {"query": query})["bulkOperationRunQuery"]
        assert result["bulkOperation"] is None
        return str(result["userErrors"][0]["message"])

    assert "nesting depth" in refused(
        "{ orders { edges { node { id fulfillmentOrders { edges { node { id "
        "lineItems { edges { node { id } } } } } } } } } }"
    )
    assert "doesn't exist" in refused("{ orders { edges { node { bogus } } } }")
    assert "not supported by the sandbox" in refused("{ products { edges { node { id } } } }")


# One node selection, read both by a bulk export and by the API: aliases, named and inline fragments,
# __typename, views nested in views and in plain dicts, lists of views and of dicts, a connection read
# through `nodes` and one through `edges` (their `first` is ignored by the export).
FRAGMENTS = """
fragment Money on MoneyV2 { amount currencyCode __typename }
fragment Line on LineItem {
  id sku qty: quantity __typename variant { __typename id sku }
  taxLines { rate priceSet { shopMoney { ...Money } } }
}
"""
NODE = """
  __typename
  orderId: id
  ... on Order { name tags }
  customer { id displayName __typename }
  total: totalPriceSet { shopMoney { ...Money } presentmentMoney { amt: amount } }
  shippingAddress { name zip }
  customAttributes { key value }
  transactions { id kind parentTransaction { id kind } amountSet { shopMoney { amount } } }
  lineItems(first: 10) { nodes { ...Line } }
  fulfillmentOrders(first: 5) { edges { node { id status assignedLocation { name location { id name } } } } }
"""
CONNECTIONS = ("lineItems", "fulfillmentOrders")


def _api_nodes(sandbox: ShopifySandbox) -> list[dict[str, Any]]:
    query = f"""{FRAGMENTS} query($after: String) {{ orders(first: 10, after: $after, sortKey: ID) {{
        pageInfo {{ hasNextPage endCursor }} nodes {{ {NODE} }} }} }}"""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        sandbox.control.refill_bucket()  # pages of 10 orders cost more than the standard plan restores
        page = data(sandbox, query, {"after": after})["orders"]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _untyped(value: Any) -> Any:
    """``value`` without ``__typename``: exports keep it on rows only (as the sandbox always did)."""
    if isinstance(value, list):
        return [_untyped(item) for item in value]
    if isinstance(value, dict):
        return {key: _untyped(item) for key, item in value.items() if key != "__typename"}
    return value


def _expected_rows(node: dict[str, Any]) -> list[dict[str, Any]]:
    own = {key: _untyped(value) for key, value in node.items() if key not in CONNECTIONS}
    own["__typename"] = node["__typename"]
    line_items = [{**_untyped(item), "__typename": "LineItem"} for item in node["lineItems"]["nodes"]]
    fulfillment_orders = [_untyped(edge["node"]) for edge in node["fulfillmentOrders"]["edges"]]
    return [own] + [{**child, "__parentId": node["orderId"]} for child in line_items + fulfillment_orders]


def test_export_renders_rows_as_the_api_answers(shopify_sandbox: ShopifySandbox) -> None:
    export = f"{FRAGMENTS} {{ orders(sortKey: ID) {{ edges {{ node {{ {NODE} }} }} }} }}"
    started = data(shopify_sandbox, RUN, {"query": export})["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    done = _wait(shopify_sandbox)
    assert done["status"] == "COMPLETED"
    rows = [json.loads(line) for line in httpx.get(done["url"]).text.splitlines()]
    expected = [row for node in _api_nodes(shopify_sandbox) for row in _expected_rows(node)]
    assert len(expected) > 100  # every kind of value above occurs
    assert rows == expected
    assert list(rows[0]) == ["__typename", "orderId", "name", "tags", "customer", "total", "shippingAddress",
                             "customAttributes", "transactions"]  # fmt: skip


def test_export_in_small_chunks_lists_as_the_api_pages(
    shopify_sandbox: ShopifySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks end on deleted, mutated and filtered-out orders; seeded ones are built after the listing."""
    monkeypatch.setattr(bulk, "CHUNK", 3)
    control = shopify_sandbox.control
    control.touch_order("#1004", note="moved")
    control.delete_order("#1050")
    control.delete_order("#1007")
    control.create_order(status="paid")
    for query, sort in (("", "UPDATED_AT"), ("status:open", "ID"), ("updated_at:>='2020-01-01'", "CREATED_AT")):
        arguments = f'sortKey: {sort}, reverse: true, query: "{query}"'
        data(shopify_sandbox, RUN, {"query": f"{{ orders({arguments}) {{ edges {{ node {{ id name }} }} }} }}"})
        rows = [json.loads(line) for line in httpx.get(_wait(shopify_sandbox)["url"]).text.splitlines()]
        names = [o["name"] for o in all_orders(shopify_sandbox, page_size=4, sortKey=sort, reverse=True, query=query)]
        assert [row["name"] for row in rows] == names, query
        assert "#1050" not in names
        assert "#1004" in names


def test_export_shows_a_refund_at_once(shopify_sandbox: ShopifySandbox) -> None:
    """Totals are computed once per rendered order: a refund just made shows in the next export."""
    export = """{ orders(query: "name:#1001") { edges { node { id displayFinancialStatus
        totalRefundedSet { shopMoney { amount } } totalOutstandingSet { shopMoney { amount } }
        lineItems { edges { node { id currentQuantity refundableQuantity unfulfilledQuantity } } } } } } }"""

    def exported() -> list[dict[str, Any]]:
        data(shopify_sandbox, RUN, {"query": export})
        return [json.loads(line) for line in httpx.get(_wait(shopify_sandbox)["url"]).text.splitlines()]

    before = exported()
    assert before[0]["displayFinancialStatus"] == "PAID"
    snapshot = shopify_sandbox.control.snapshot("#1001")
    line = snapshot["line_items"][0]
    refund = """mutation($input: RefundInput!) { refundCreate(input: $input) @idempotent(key: "bulk-refund") {
        userErrors { message } } }"""
    refunded = {"orderId": snapshot["id"], "refundLineItems": [{"lineItemId": line["id"], "quantity": 1}]}
    sale = next(t for t in snapshot["transactions"] if t["kind"] in ("SALE", "CAPTURE"))
    refunded["transactions"] = [
        {"orderId": snapshot["id"], "parentId": sale["id"], "kind": "REFUND", "gateway": "x", "amount": "5.00"}
    ]
    assert data(shopify_sandbox, refund, {"input": refunded})["refundCreate"]["userErrors"] == []
    after = exported()
    assert after[0]["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert after[0]["totalRefundedSet"]["shopMoney"]["amount"] == "5.00"
    item = next(row for row in after if row["id"] == line["id"])
    assert item["currentQuantity"] == item["refundableQuantity"] == line["quantity"] - 1


def test_an_export_failed_fault_ends_the_next_export_failed_with_no_file(shopify_sandbox: ShopifySandbox) -> None:
    """``fail_next(kind="export_failed")``: the bulk query is accepted, its export breaks after its first rows
    and ends FAILED with INTERNAL_SERVER_ERROR and no URL, as Shopify reports it; the next one completes."""
    shopify_sandbox.control.fail_next(kind="export_failed", field="bulkOperationRunQuery")
    started = data(shopify_sandbox, RUN, {"query": EXPORT})["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    failed = _wait(shopify_sandbox)
    assert (failed["status"], failed["errorCode"], failed["url"]) == ("FAILED", "INTERNAL_SERVER_ERROR", None)
    assert shopify_sandbox.control.faults()["one_shots"] == []  # consumed by that one export
    data(shopify_sandbox, RUN, {"query": EXPORT})
    assert _wait(shopify_sandbox)["status"] == "COMPLETED"


def test_an_unknown_one_shot_fault_is_refused(shopify_sandbox: ShopifySandbox) -> None:
    with pytest.raises(ValueError, match="export_failed"):
        shopify_sandbox.control.fail_next(kind="export_broken")
