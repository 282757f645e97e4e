"""REST ``orders.json`` page throughput beside GraphQL ``orders`` pages, same sandbox, same run.

    .venv/bin/python -m bench.sandbox_rest_throughput [--orders 100000] [--pages 20]

One in-process sandbox (its own HTTP server on loopback), one httpx keep-alive client, both buckets made
effectively infinite (this measures the sandbox, not Shopify's rate limits). Profiles, each walking
``--pages`` pages sorted by ``updated_at`` with ``status=any``:

- REST, full orders (limit 250, every field of the REST order: money sets, line items, refunds ...);
- REST, ``fields=`` the scalar subset GraphQL's light page asks for (limit 250);
- GraphQL light (first: 250, scalars + note attributes) and full (first: 25, money, line items,
  fulfillment orders, transactions), the queries of ``bench.sandbox_throughput``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from bench.sandbox_throughput import FULL, LIGHT, measure_pages
from sandboxes.shopify import SandboxConfig, ShopifySandbox

LIGHT_FIELDS = "id,name,created_at,updated_at,cancelled_at,financial_status,fulfillment_status,note_attributes"


def measure_rest(sandbox: ShopifySandbox, label: str, pages: int, fields: str | None) -> None:
    params: dict[str, str] | None = {"status": "any", "limit": "250", "order": "updated_at asc"}
    if fields and params is not None:
        params["fields"] = fields
    url: str | None = f"{sandbox.base_url}/admin/api/2026-10/orders.json"
    times: list[float] = []
    orders = 0
    cpu = time.process_time()
    with httpx.Client(headers={"X-Shopify-Access-Token": "bench"}, timeout=120) as client:
        for _ in range(pages):
            assert url is not None
            started = time.perf_counter()
            response = client.get(url, params=params)
            body = response.json()
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            orders += len(body["orders"])
            url = response.links.get("next", {}).get("url")
            params = None  # a page_info link carries everything (httpx would replace its query with params)
            if url is None:
                break
    total, cpu = sum(times), time.process_time() - cpu
    print(
        f"{label}: {orders:,} orders in {len(times)} pages, {orders / total:,.0f} orders/s, "
        f"page p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
        f"CPU (server + client, one process) {cpu / orders * 1e6:.0f} µs/order"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000, help="seeded orders")
    parser.add_argument("--pages", type=int, default=20, help="pages read per profile")
    args = parser.parse_args()
    config = SandboxConfig(
        seed=1,
        orders=args.orders,
        plan="enterprise",
        restore_rate=1e9,
        bucket_size=1e9,
        rest_bucket_size=1e9,
        rest_restore_rate=1e9,
        access_token="bench",
    )
    sandbox = ShopifySandbox(config)
    with sandbox.serve():
        measure_rest(sandbox, "REST orders.json, full orders (limit 250)", args.pages, None)
        measure_rest(sandbox, "REST orders.json, fields= light subset (limit 250)", args.pages, LIGHT_FIELDS)
        measure_pages(sandbox, "GraphQL orders, light (first: 250)", LIGHT, args.pages)
        measure_pages(sandbox, "GraphQL orders, full (first: 25)", FULL, args.pages)
    sandbox.close()


if __name__ == "__main__":
    main()
