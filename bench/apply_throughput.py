"""Apply throughput: orders per second from the webhook inbox to the ledger (PostgreSQL).

Fills the inbox with N ``orders/updated`` deliveries (the Shopify sandbox's REST payloads: several line
items, taxes, shipping, refunds with transactions), then times the drain that the worker runs
(``mirror.drain_inbox``: claim a batch with SKIP LOCKED, apply, mark handled, commit) with the production
wiring (``bench_database`` wires every hook: supplier linking, cancel intents, chargebacks, cross-checks).
A second round re-delivers newer versions of the same orders (updates instead of inserts). Prints the load
average and this process's CPU per order beside each figure (PostgreSQL's own CPU is not in it).

Usage: python -m bench.apply_throughput [--orders 20000]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import orjson

from bench.common import bench_database, create_shop


def _payloads(count: int, bump_seconds: int = 0) -> list[str]:
    from sandboxes.shopify import SandboxConfig
    from sandboxes.shopify.payloads import order_json
    from sandboxes.shopify.state import ShopState

    state = ShopState(SandboxConfig(seed=9, orders=count, shop_domain="apply.myshopify.com"))
    bodies = []
    for index in range(count):
        order = state.get(index)
        assert order is not None
        body = order_json(state, order)
        if bump_seconds:
            body["updated_at"] = _later(body["updated_at"], bump_seconds)
        bodies.append(orjson.dumps(body).decode())
    return bodies


def _later(stamp: str, seconds: int) -> str:
    import datetime as dt

    return (dt.datetime.fromisoformat(stamp) + dt.timedelta(seconds=seconds)).isoformat()


def _fill(shop_id: int, bodies: list[str]) -> None:
    from worker.db import session_scope
    from worker.mirror.inbox import IncomingDelivery, store_deliveries

    for start in range(0, len(bodies), 1000):
        with session_scope() as session:
            store_deliveries(session, [
                IncomingDelivery(shop_id, str(uuid.uuid4()), "orders/updated", body)
                for body in bodies[start : start + 1000]
            ])  # fmt: skip


def _drain() -> tuple[int, float, float]:
    """(handled, seconds, this process's CPU seconds): on a shared machine the wall time moves with the
    load; the CPU spent per order does much less."""
    from worker.db import session_scope
    from worker.mirror.inbox import drain

    started, cpu = time.perf_counter(), time.process_time()
    handled = drain(session_scope, budget_seconds=3600)
    return handled, time.perf_counter() - started, time.process_time() - cpu


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args()
    first, second = _payloads(args.orders), _payloads(args.orders, bump_seconds=60)
    lines = sum(orjson.loads(b)["line_items"].__len__() for b in first[:1000]) / min(1000, args.orders)
    with bench_database():
        shop_id = create_shop("apply.myshopify.com", "secret")
        _fill(shop_id, first)
        print(f"before: {_load()}")
        handled, seconds, cpu = _drain()
        print(f"new orders:      {handled} in {seconds:.2f} s = {handled / seconds:,.0f} orders/s "
              f"(avg {lines:.1f} line items per order; {cpu * 1e6 / handled:.0f} µs CPU/order here; "
              f"{_load()})")  # fmt: skip
        _fill(shop_id, second)
        handled, seconds, cpu = _drain()
        print(f"updated orders:  {handled} in {seconds:.2f} s = {handled / seconds:,.0f} orders/s "
              f"({cpu * 1e6 / handled:.0f} µs CPU/order here; {_load()})")  # fmt: skip


if __name__ == "__main__":
    main()
