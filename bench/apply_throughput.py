"""Apply throughput: orders per second from the webhook inbox to the ledger (PostgreSQL).

Fills the inbox with N ``orders/updated`` deliveries (the Shopify sandbox's REST payloads: several line
items, taxes, shipping, refunds with transactions), then times the drain that the worker runs
(``mirror.drain_inbox``: claim a batch with SKIP LOCKED, apply, mark handled, commit) with the production
wiring (``bench_database`` wires every hook: supplier linking, cancel intents, chargebacks, cross-checks).
A second round re-delivers newer versions of the same orders (updates instead of inserts). Prints the load
average and this process's CPU per order beside each figure (PostgreSQL's own CPU is not in it).

Then the same two rounds through the worker as users run it: ``dropsync worker --concurrency C`` as a
process (prefork, PostgreSQL + Redis), for each C of ``--concurrency`` (2, the command's default, and 4,
the Procfile's), on a fresh ledger each. The inbox fills while the worker idles, as when it comes back
after a burst that queued many drain messages (the receiver publishes one per 20 ms window): four per
pool process are queued at once. The worker runs up to C drains at once: they claim different batches
(``SKIP LOCKED``), so one drain's Python overlaps another's wait on PostgreSQL. The time runs from the
first publish to the last delivery handled, read from the ledger.

Usage: python -m bench.apply_throughput [--orders 20000] [--concurrency 2,4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.common import DROPSYNC, REDIS_URL, bench_database, broker_publisher, create_shop, machine_speed

Publish = Callable[[str, list[Any]], None]


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


def _count(unhandled: bool) -> int:
    """Deliveries not handled yet (``unhandled``), or those that recorded an error: read from the ledger."""
    from sqlalchemy import func, select

    from models import WebhookDelivery
    from worker.db import session_scope

    which = WebhookDelivery.handled_at.is_(None) if unhandled else WebhookDelivery.last_error.is_not(None)
    with session_scope() as session:
        return int(session.scalar(select(func.count()).where(which)) or 0)


def _wait_for_worker(publish: Publish, log: Path, timeout: float = 60.0) -> None:
    """A heartbeat through the broker, then its row: the worker consumes and writes the ledger (as
    ``worker.stack`` waits for it)."""
    from models.types import utcnow
    from worker.db import session_scope
    from worker.system.service import last_heartbeat

    since = utcnow()
    publish("system.heartbeat", [])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            seen = last_heartbeat(session, "worker")
        if seen is not None and seen >= since:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker consumed no task in {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _worker_round(publish: Publish, concurrency: int, timeout: float = 600.0) -> float:
    """Seconds from the first drain message to the last delivery handled (read from the ledger); four
    messages per pool process, so every process keeps a drain running, each until the inbox is empty."""
    from worker.mirror.receiver import DRAIN_TASK

    started = time.perf_counter()
    for _ in range(4 * concurrency):
        publish(DRAIN_TASK, [])
    while _count(unhandled=True):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the worker left deliveries unhandled after {timeout:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def _wait_until_acknowledged(prefix: str, timeout: float = 60.0) -> None:
    """Until every message published to the worker's queue was acknowledged (``acks_late``: once its task
    ran): the queue's list empty and no message unacknowledged (kombu's Redis keys, under the prefix)."""
    import redis
    from kombu.transport.redis import Channel

    from worker.runtime import QUEUE

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    try:
        while client.llen(f"{prefix}{QUEUE}") or client.hlen(f"{prefix}{Channel.unacked_key}"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker left messages unacknowledged after {timeout:.0f} s")
            time.sleep(0.05)
    finally:
        client.close()


def through_the_worker(concurrency: int, first: list[str], second: list[str]) -> None:
    """Both rounds drained by a real ``dropsync worker --concurrency C`` process, on a fresh ledger."""
    from worker.runtime import ManagedProcess

    with bench_database("dropsync_bench_drain") as url, tempfile.TemporaryDirectory() as tmp:
        shop_id = create_shop("apply.myshopify.com", "secret")
        prefix = f"bench-{uuid.uuid4().hex[:6]}:"  # its own queue in the shared Redis
        env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "DROPSYNC_REDIS_KEY_PREFIX": prefix}
        log = Path(tmp) / "worker.log"
        worker = ManagedProcess("worker", [DROPSYNC, "worker", "--concurrency", str(concurrency)], env=env,
                                log_path=log).start()  # fmt: skip
        try:
            publish = broker_publisher(env)
            _wait_for_worker(publish, log)
            for label, bodies in (("new orders:    ", first), ("updated orders:", second)):
                _fill(shop_id, bodies)
                load = _load()
                seconds = _worker_round(publish, concurrency)
                failed = _count(unhandled=False)
                print(f"  {label} {len(bodies)} in {seconds:.2f} s = {len(bodies) / seconds:,.0f} orders/s "
                      f"({failed} deliveries failed; before: {load}; after: {_load()})", flush=True)  # fmt: skip
                _wait_until_acknowledged(prefix)  # the drains left over end on an empty inbox before the next fill
        finally:
            worker.stop(30)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--concurrency", default="2,4", help="worker pool sizes to run, comma-separated ('' skips)")
    args = parser.parse_args()
    first, second = _payloads(args.orders), _payloads(args.orders, bump_seconds=60)
    lines = sum(orjson.loads(b)["line_items"].__len__() for b in first[:1000]) / min(1000, args.orders)
    with bench_database():
        shop_id = create_shop("apply.myshopify.com", "secret")
        _fill(shop_id, first)
        print(f"before: {_load()}; {machine_speed()}")
        handled, seconds, cpu = _drain()
        print(f"new orders:      {handled} in {seconds:.2f} s = {handled / seconds:,.0f} orders/s "
              f"(avg {lines:.1f} line items per order; {cpu * 1e6 / handled:.0f} µs CPU/order here; "
              f"{_load()})")  # fmt: skip
        _fill(shop_id, second)
        handled, seconds, cpu = _drain()
        print(f"updated orders:  {handled} in {seconds:.2f} s = {handled / seconds:,.0f} orders/s "
              f"({cpu * 1e6 / handled:.0f} µs CPU/order here; {_load()})")  # fmt: skip
    for concurrency in [int(c) for c in args.concurrency.split(",") if c.strip()]:
        print(f"through the worker: dropsync worker --concurrency {concurrency} (a process; PostgreSQL + Redis)")
        through_the_worker(concurrency, first, second)


if __name__ == "__main__":
    main()
