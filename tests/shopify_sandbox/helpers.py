"""Small helpers for talking to the sandbox over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from integrations.shopify.sandbox import ShopifySandbox


def post(
    sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    sent = {"X-Shopify-Access-Token": sandbox.config.access_token, **headers}
    return httpx.post(
        sandbox.graphql_url(), json={"query": query, "variables": variables or {}}, headers=sent, timeout=30
    )


def gql(sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of a 200 answer."""
    response = post(sandbox, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` of an answer that must carry no errors."""
    body = gql(sandbox, query, variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


ORDERS_PAGE = """
query Orders($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    edges { cursor node { id name createdAt updatedAt displayFinancialStatus displayFulfillmentStatus cancelledAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def all_orders(sandbox: ShopifySandbox, page_size: int = 7, **variables: Any) -> list[dict[str, Any]]:
    """Every order across pages (follows ``endCursor``)."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = data(sandbox, ORDERS_PAGE, {"first": page_size, "after": after, **variables})["orders"]
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
