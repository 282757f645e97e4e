"""Cancellation latency: "supplier confirmation recorded" → "Shopify order cancelled and mirrored".

In-process executor (no broker hop): for N orders on a local Shopify sandbox, record the supplier's
confirmation (which moves the request to ``shopify_action``) and run the request to ``done`` (re-read,
intent committed, orderCancel, job polled, cancelledAt confirmed, order re-read and mirrored). Next to
it, in the same run, the raw sandbox round trip: orderCancel + job polling on fresh orders.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/cancellation_latency.py 200

The database must be migrated (``dropsync db upgrade``); the script creates its own shop and orders.
Prints p50/p99 in milliseconds. The broker variants (Redis, embedded) are not measured by this script.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from decimal import Decimal

from integrations.shopify.client import ShopifyClient
from integrations.shopify.sandbox import SandboxConfig, ShopifySandbox
from models import Order, Shop, SupplierOrder
from worker import outbox
from worker.cancellation import execution, service
from worker.db import session_scope
from worker.mirror.apply import apply_snapshots
from worker.mirror.snapshot import from_graphql
from worker.supplier import service as supplier


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int) -> None:
    outbox.set_publisher(lambda task, args: None)
    config = SandboxConfig(seed=3, orders=1, plan="plus", shop_domain=f"bench-{uuid.uuid4().hex[:6]}.myshopify.com",
                           access_token="shpat_bench", client_secret="s", job_delay_seconds=0.0)  # fmt: skip
    box = ShopifySandbox(config)
    with box.serve(), ShopifyClient(config.shop_domain, config.access_token, api_url=box.base_url) as client:
        with session_scope() as session:
            shop = Shop(domain=config.shop_domain, access_token=config.access_token, api_url=box.base_url)
            session.add(shop)
            session.flush()
            shop_id = shop.id
        workflow, raw = [], []
        for i in range(n):
            gid = box.control.create_order(status="paid", line_items=2)
            node = client.execute("OrderById", {"id": gid})["order"]
            with session_scope() as session:
                order_id = apply_snapshots(session, shop_id, [from_graphql(node)]).applied[0].order_id
                order = session.get_one(Order, order_id)
                so = supplier.link_supplier_order(session, order, f"81{i:014d}{uuid.uuid4().int % 100}", None, "bench")
                so.status, so.amount_paid = "awaiting_shipment", Decimal("5")
                request_id = service.create_request(session, order, reason="out_of_stock", actor="bench").id
                supplier.record_cancellation_requested(session, so, "bench")
                so_id = so.id
            started = time.perf_counter()
            with session_scope() as session:
                supplier.record_cancellation_confirmed(session, session.get_one(SupplierOrder, so_id), "bench")
            assert execution.run_request(session_scope, request_id, client) == "done"
            workflow.append((time.perf_counter() - started) * 1000)

            gid2 = box.control.create_order(status="paid", line_items=2)
            started = time.perf_counter()
            variables = {"orderId": gid2, "reason": "CUSTOMER", "restock": True,
                         "refundMethod": {"originalPaymentMethodsRefund": True}}  # fmt: skip
            job = client.execute("OrderCancel", variables)["orderCancel"]["job"]
            client.wait_for_job(job["id"])
            raw.append((time.perf_counter() - started) * 1000)
    print(f"cancellations: {n}")
    print(f"workflow (confirmation recorded -> cancelled and mirrored, in-process): "
          f"p50 {statistics.median(workflow):.1f} ms, p99 {_pct(workflow, 0.99):.1f} ms")  # fmt: skip
    print(f"raw sandbox orderCancel + job polling: p50 {statistics.median(raw):.1f} ms, p99 {_pct(raw, 0.99):.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
