"""How fast the Shopify sandbox serves orders, so later benchmarks know it is not their bottleneck.

    .venv/bin/python -m bench.sandbox_throughput [--orders 100000] [--pages 40] [--bulk-orders 100000]

Prints: start-up time for a large shop, orders/s through ``orders`` pages over HTTP keep-alive (a light
page of 250 orders with scalar fields, and a full page with money, line items and fulfillment orders), and
a bulk export (bulkOperationRunQuery -> COMPLETED -> JSONL downloaded). The throttle bucket is made
effectively infinite: this measures the sandbox, not Shopify's rate limits.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx

from sandboxes.shopify import SandboxConfig, ShopifySandbox

LIGHT = """
query($after: String) {
  orders(first: 250, after: $after, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id name createdAt updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus
            customAttributes { key value } }
  }
}
"""
FULL = """
query($after: String) {
  orders(first: 25, after: $after, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus currencyCode
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      totalRefundedSet { shopMoney { amount } }
      customAttributes { key value }
      lineItems(first: 5) { nodes { id sku quantity currentQuantity originalUnitPriceSet { shopMoney { amount } } } }
      fulfillmentOrders(first: 2) { nodes { id status requestStatus } }
      transactions(first: 5) { id kind status amountSet { shopMoney { amount } } }
    }
  }
}
"""
BULK = """
{ orders { edges { node {
  id name updatedAt displayFinancialStatus displayFulfillmentStatus
  totalPriceSet { shopMoney { amount currencyCode } }
  customAttributes { key value }
  lineItems { edges { node { id sku quantity } } }
} } } }
"""
RUN = (
    "mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: false) "
    "{ bulkOperation { id } userErrors { message } } }"
)
STATUS = "{ currentBulkOperation { status objectCount rootObjectCount fileSize url } }"


def _config(orders: int) -> SandboxConfig:
    return SandboxConfig(
        seed=1, orders=orders, plan="enterprise", restore_rate=1e9, bucket_size=1e9, access_token="bench"
    )


def measure_startup(orders: int) -> None:
    started = time.perf_counter()
    sandbox = ShopifySandbox(_config(orders))
    with sandbox.serve():
        ready = time.perf_counter() - started
        first = _client(sandbox).post(
            sandbox.graphql_url(), json={"query": "{ orders(first: 1, reverse: true) { nodes { name } } }"}
        )
        assert first.status_code == 200, first.text
    last = first.json()["data"]["orders"]["nodes"][0]["name"]
    print(f"start-up with {orders:,} seeded orders: {ready * 1000:.0f} ms to serving (last order {last})")
    sandbox.close()


def _client(sandbox: ShopifySandbox) -> httpx.Client:
    return httpx.Client(headers={"X-Shopify-Access-Token": "bench"}, timeout=120)


def measure_pages(sandbox: ShopifySandbox, label: str, query: str, pages: int) -> None:
    times: list[float] = []
    orders = 0
    after: str | None = None
    cpu = time.process_time()
    with _client(sandbox) as client:
        for _ in range(pages):
            started = time.perf_counter()
            body: dict[str, Any] = client.post(
                sandbox.graphql_url(), json={"query": query, "variables": {"after": after}}
            ).json()
            times.append(time.perf_counter() - started)
            assert "errors" not in body, body["errors"]
            page = body["data"]["orders"]
            orders += len(page["nodes"])
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
    total = sum(times)
    cpu = time.process_time() - cpu
    print(
        f"{label}: {orders:,} orders in {len(times)} pages, {orders / total:,.0f} orders/s, "
        f"page p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
        f"CPU (server + client, one process) {cpu / orders * 1e6:.0f} µs/order"
    )


def measure_bulk(orders: int) -> None:
    sandbox = ShopifySandbox(_config(orders))
    with sandbox.serve(), _client(sandbox) as client:
        started, cpu = time.perf_counter(), time.process_time()
        result = client.post(sandbox.graphql_url(), json={"query": RUN, "variables": {"q": BULK}}).json()
        assert not result["data"]["bulkOperationRunQuery"]["userErrors"], result
        while True:
            status = client.post(sandbox.graphql_url(), json={"query": STATUS}).json()["data"]["currentBulkOperation"]
            if status["status"] not in ("CREATED", "RUNNING"):
                break
            time.sleep(0.1)
        built, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert status["status"] == "COMPLETED", status
        rows = 0
        with client.stream("GET", status["url"]) as response:
            for _ in response.iter_lines():
                rows += 1
        total = time.perf_counter() - started
    roots = int(status["rootObjectCount"])
    print(
        f"bulk export of {roots:,} orders ({rows:,} JSONL rows, {int(status['fileSize']) / 1e6:.1f} MB): "
        f"COMPLETED after {built:.1f} s ({roots / built:,.0f} orders/s; CPU {cpu / roots * 1e6:.0f} µs/order), "
        f"downloaded (streamed) by {total:.1f} s"
    )
    sandbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000, help="seeded orders for the page runs")
    parser.add_argument("--pages", type=int, default=40, help="pages read per page profile")
    parser.add_argument("--bulk-orders", type=int, default=100_000)
    parser.add_argument("--startup-orders", type=int, default=1_000_000)
    args = parser.parse_args()
    measure_startup(args.startup_orders)
    sandbox = ShopifySandbox(_config(args.orders))
    with sandbox.serve():
        measure_pages(sandbox, "orders pages, light (first: 250, scalars + note attributes)", LIGHT, args.pages)
        measure_pages(
            sandbox,
            "orders pages, full (first: 25, money, line items, fulfillment orders, transactions)",
            FULL,
            args.pages,
        )
        sandbox.control.touch_order("#1001")
        measure_pages(
            sandbox, "orders pages, light, after a mutation (materialized order merged in)", LIGHT, args.pages
        )
    sandbox.close()
    measure_bulk(args.bulk_orders)


if __name__ == "__main__":
    main()
