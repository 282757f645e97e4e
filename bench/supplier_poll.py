"""How long supplier polling and the deadline sweep take, against the in-process AliExpress sandbox.

- ``poll``: N linked supplier orders, all due; one ``poll_due`` run (the beat task's body) polls them
  sequentially over loopback HTTP, one transaction per order. Printed: orders/s and ms per order, for a
  first pass (every order changes: status, payment ledger entry, deadlines) and a second pass (nothing
  changed: the steady state of a store).
- ``alerts``: ``raise_due_alerts`` over the same N orders, first run (alerts raised) and a repeat run
  (nothing new: what the 5-minute task costs in steady state).
- ``calendar``: ``add_business_days(…, 7)`` per call (cached holiday calendar).

Usage: .venv/bin/python -m bench.supplier_poll [--orders 300] [--sqlite]
Default database: a private PostgreSQL database at BENCH_POSTGRES_ADMIN_URL (dropped afterwards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from bench.common import bench_database

if TYPE_CHECKING:
    from sandboxes.aliexpress import AliExpressSandbox


def seed(sandbox: AliExpressSandbox, count: int) -> None:
    from models import LineItem, Order, Shop
    from worker.db import session_scope
    from worker.supplier.service import link_supplier_order

    t0 = sandbox.clock.now()
    with session_scope() as session:
        shop = Shop(domain="bench-supplier.myshopify.com")
        session.add(shop)
        session.flush()
        for n in range(count):
            order = Order(
                shop_id=shop.id,
                shopify_gid=f"gid://shopify/Order/{n}",
                name=f"#{1000 + n}",
                currency="USD",
                shopify_created_at=t0,
                shopify_updated_at=t0,
            )
            order.line_items.append(
                LineItem(
                    shopify_gid=f"gid://shopify/LineItem/{n}", title="Case", quantity=1, unit_price=Decimal("10.00")
                )
            )
            session.add(order)
            session.flush()
            oid = sandbox.paid_order("7.50")
            if n % 3 == 1:
                sandbox.ship(oid, f"LP{n:08d}")
            link_supplier_order(session, order, oid, None, "bench", now=t0)


def time_poll(sandbox: AliExpressSandbox, count: int) -> float:
    from models import SupplierOrder
    from worker.db import session_scope
    from worker.supplier.polling import poll_due

    with session_scope() as session:
        for so in session.scalars(select(SupplierOrder)):
            so.next_poll_at = sandbox.clock.now()
    with sandbox.client() as client:
        started = time.perf_counter()
        summary = poll_due(session_scope, client, sandbox.clock.now, count)
        elapsed = time.perf_counter() - started
    assert summary.polled == count, summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()

    from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig
    from worker.db import session_scope
    from worker.deadlines.alerts import raise_due_alerts
    from worker.deadlines.calendar import BusinessCalendar
    from worker.deadlines.rules import DeadlinePolicy

    backend = "sqlite" if args.sqlite else "postgresql"
    sandbox = AliExpressSandbox(AliExpressSandboxConfig(seed=1))
    with bench_database("supplier_bench", sqlite=args.sqlite), sandbox.serve():
        seed(sandbox, args.orders)
        for label in ("first pass (changes)", "second pass (no change)"):
            elapsed = time_poll(sandbox, args.orders)
            print(
                f"poll [{backend}] {label}: {args.orders} orders in {elapsed:.2f} s = "
                f"{args.orders / elapsed:.0f} orders/s, {1000 * elapsed / args.orders:.1f} ms/order"
            )
        later = sandbox.clock.now() + dt.timedelta(days=9)  # handling deadlines passed for the unshipped ones
        for label in ("first run", "repeat run"):
            with session_scope() as session:
                started = time.perf_counter()
                raised = raise_due_alerts(session, later, DeadlinePolicy())
                elapsed = time.perf_counter() - started
            print(f"alerts [{backend}] {label}: {args.orders} orders, {len(raised)} raised, {1000 * elapsed:.0f} ms")
    calendar = BusinessCalendar("US", "America/New_York")
    start = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    calls = 20_000
    started = time.perf_counter()
    for i in range(calls):
        calendar.add_business_days(start + dt.timedelta(hours=i % 500), 7)
    elapsed = time.perf_counter() - started
    print(f"calendar: add_business_days(…, 7) {1e6 * elapsed / calls:.1f} µs/call")


if __name__ == "__main__":
    main()
