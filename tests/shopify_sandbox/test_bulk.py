"""Bulk operations: JSONL with __parentId served by the sandbox, status polling, finish webhook, bulk rules."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from integrations.shopify.sandbox import ShopifySandbox
from integrations.shopify.schema import validate_document
from tests.shopify_sandbox.helpers import Receiver, data

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
