"""Cost of a /metrics scrape (ledger gauges computed from the database) and of a /readyz probe.

    .venv/bin/python -m bench.observability_scrape                 # PostgreSQL (private database)
    .venv/bin/python -m bench.observability_scrape --sqlite        # a temporary SQLite file

Fills a ledger the size of a busy store's year (orders, handled webhook deliveries, finished intents,
alerts, refund entries) plus the live rows the gauges look for, then times the ledger collector alone,
the whole web ``/metrics`` response and ``/readyz`` through the ASGI app (no network).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from bench.common import bench_database


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    from worker import migrations
    from worker.db import reset_engine_cache
    from worker.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.sqlite3"
        os.environ["DATABASE_URL"] = url
        os.environ["DROPSYNC_EMBEDDED_BROKER_PATH"] = f"{tmp}/broker.sqlite3"
        get_settings.cache_clear()
        reset_engine_cache()
        migrations.upgrade(url)
        yield url
        reset_engine_cache()


def fill(orders: int) -> dict[str, int]:
    from models import Alert, LedgerEntry, Order, Shop, ShopifyIntent, WebhookDelivery
    from models.types import utcnow
    from worker.db import get_engine

    now = utcnow()
    engine = get_engine()
    with engine.begin() as conn:
        shop_id = conn.execute(insert(Shop).values(domain="bench.myshopify.com").returning(Shop.id)).scalar_one()
        conn.execute(
            insert(Order),
            [
                {"shop_id": shop_id, "shopify_gid": f"gid://shopify/Order/{i}", "name": f"#{1000 + i}",
                 "currency": "EUR", "shopify_created_at": now, "shopify_updated_at": now, "created_at": now,
                 "updated_at": now}
                for i in range(orders)
            ],
        )  # fmt: skip
        order_ids = [row[0] for row in conn.execute(Order.__table__.select().with_only_columns(Order.id))]
        deliveries = [
            {"shop_id": shop_id, "delivery_id": f"d-{i}", "topic": "orders/updated", "body": "{}",
             "received_at": now - dt.timedelta(seconds=i), "handled_at": None if i < 200 else now, "attempts": 0}
            for i in range(orders * 4)
        ]  # fmt: skip
        conn.execute(insert(WebhookDelivery), deliveries)
        intents: list[dict[str, Any]] = [
            {"shop_id": shop_id, "order_id": order_id, "kind": kind, "idempotency_key": f"k-{n}-{kind}",
             "state": "succeeded" if n >= 100 else ("pending", "submitting", "unknown")[n % 3], "attempts": 1,
             "params": {}, "result_ids": [], "created_at": now - dt.timedelta(minutes=n), "updated_at": now}
            for n, order_id in enumerate(order_ids)
            for kind in ("order_cancel", "refund_create")
        ]  # fmt: skip
        conn.execute(insert(ShopifyIntent), intents)
        alerts = [
            {"shop_id": shop_id, "kind": ("protection_ending", "tracking_due", "refund_due")[i % 3],
             "severity": "warning", "message": "m", "due_at": now + dt.timedelta(hours=i % 48 - 24),
             "dedupe_key": f"a-{i}", "raised_at": now, "resolved_at": now if i % 4 else None}
            for i in range(orders // 2)
        ]  # fmt: skip
        conn.execute(insert(Alert), alerts)
        entries = [
            {"shop_id": shop_id, "order_id": order_id, "kind": kind, "amount": Decimal("12.50"), "currency": "EUR",
             "source_ref": f"bench:{kind}:{order_id}", "occurred_at": now, "recorded_at": now}
            for order_id in order_ids[: orders // 2]
            for kind in ("customer_payment", "customer_refund", "supplier_refund")
        ]  # fmt: skip
        conn.execute(insert(LedgerEntry), entries)
    return {
        "orders": orders, "webhook deliveries": len(deliveries), "intents": len(intents), "alerts": len(alerts),
        "ledger entries": len(entries),
    }  # fmt: skip


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""
    database = sqlite_database() if args.sqlite else bench_database()
    with database:
        os.environ.setdefault("DROPSYNC_EMBEDDED_BROKER_PATH", f"{tempfile.mkdtemp()}/broker.sqlite3")
        started = time.perf_counter()
        sizes = fill(args.orders)
        print(f"filled in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items()))
        measure(args.runs, "SQLite" if args.sqlite else "PostgreSQL")


def measure(runs: int, backend: str) -> None:
    from worker.db import get_engine
    from worker.observability.ledger import LedgerCollector
    from worker.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    with get_engine().connect() as conn:  # production tables have planner statistics; fresh bulk rows don't
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    every_time, steady = LedgerCollector(get_engine, exposure_max_age=0), LedgerCollector(get_engine)
    with TestClient(create_app()) as client:
        client.get("/metrics")
        client.get("/readyz")
        results = {
            "ledger collector, exposure recomputed": timed(lambda: list(every_time.collect()), runs),
            "ledger collector, exposure cached (60 s)": timed(lambda: list(steady.collect()), runs),
            "GET /metrics (whole response, steady state)": timed(lambda: client.get("/metrics"), runs),
            "GET /readyz (database, broker, migrations)": timed(lambda: client.get("/readyz"), runs),
            "GET /healthz": timed(lambda: client.get("/healthz"), runs),
        }
    for what, (median, p95) in results.items():
        print(f"{backend:10} {what:46} median {median:7.2f} ms   p95 {p95:7.2f} ms   ({runs} runs)")


if __name__ == "__main__":
    main()
