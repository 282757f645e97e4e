"""Cancellation: latency from "supplier confirmation recorded" to "Shopify order cancelled and mirrored",
and throughput of simultaneous confirmations under the Standard plan's throttle.

Each cancellation: a paid order on a local Shopify sandbox, mirrored into a private PostgreSQL
database, linked to a paid supplier order whose cancellation was asked (request in
``supplier_cancel_requested``). The clock starts when ``record_cancellation_confirmed`` is called (its
transaction moves the request to ``shopify_action`` and enqueues ``cancellation.advance`` through the
outbox) and stops at the request's ``completed_at`` (set in the transaction after the order was
cancelled on Shopify, its job polled, ``cancelledAt`` confirmed and the order re-read and mirrored).

Modes:

- ``inprocess``: the bench process runs ``run_request`` itself (no broker hop);
- ``redis`` / ``embedded``: a real Celery worker (``--concurrency``) behind that broker runs it.

Beside each latency run, the raw sandbox round trip (``orderCancel`` + job polling) is measured in the
same run. ``--throughput N`` then confirms N cancellations at once on a Standard-plan sandbox
(100 points/s) and compares the rate to what the throttle allows for the points one cancellation
costs (measured in-process).

    .venv/bin/python bench/cancellation_latency.py --n 1000 --modes inprocess,redis,embedded --throughput 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import REDIS_URL, bench_database, broker_publisher, create_shop, start
from integrations.shopify.client import ShopifyClient
from integrations.shopify.documents import Document
from models import CancellationRequest, Order, SupplierOrder
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from sandboxes.shopify.config import PLAN_RESTORE_RATES
from worker import outbox
from worker.cancellation import execution, service
from worker.db import session_scope
from worker.mirror.apply import apply_snapshots
from worker.mirror.snapshot import from_graphql
from worker.runtime import worker_argv
from worker.supplier import service as supplier


class CountingClient(ShopifyClient):
    """Adds up the cost points Shopify reports (actual cost) for every call."""

    points = 0.0
    calls = 0

    def execute(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        data = super().execute(document, variables, idempotent=idempotent)
        self.calls += 1
        if self.last_cost is not None and self.last_cost.actual is not None:
            self.points += self.last_cost.actual
        return data


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sandbox(plan: str) -> ShopifySandbox:
    config = SandboxConfig(seed=3, orders=1, plan=plan, shop_domain=f"bench-{uuid.uuid4().hex[:6]}.myshopify.com",
                           access_token="shpat_bench", client_secret="s", job_delay_seconds=0.0)  # fmt: skip
    return ShopifySandbox(config)


def prepare(box: ShopifySandbox, client: ShopifyClient, shop_id: int, n: int) -> list[tuple[int, int]]:
    """N orders waiting for the seller's confirmation: ``(request id, supplier order id)``."""
    out = []
    for _ in range(n):
        gid = box.control.create_order(status="paid", line_items=2)
        node = client.execute("OrderById", {"id": gid})["order"]
        with session_scope() as session:
            order_id = apply_snapshots(session, shop_id, [from_graphql(node)]).applied[0].order_id
            order = session.get_one(Order, order_id)
            so = supplier.link_supplier_order(session, order, str(uuid.uuid4().int % 10**16).zfill(16), None, "bench")
            so.status, so.amount_paid = "awaiting_shipment", Decimal("5")
            request_id = service.create_request(session, order, reason="out_of_stock", actor="bench").id
            supplier.record_cancellation_requested(session, so, "bench")
            out.append((request_id, so.id))
    return out


def confirm(so_id: int) -> None:
    with session_scope() as session:
        supplier.record_cancellation_confirmed(session, session.get_one(SupplierOrder, so_id), "bench")


def completed_at(request_id: int) -> float | None:
    with session_scope() as session:
        at = session.get_one(CancellationRequest, request_id).completed_at
        return at.timestamp() if at else None


def wait_done(request_id: int, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = completed_at(request_id)
        if at is not None:
            return at
        time.sleep(0.002)
    raise RuntimeError(f"request {request_id} not done after {timeout} s")


def wait_all(pending: list[tuple[int, int]], timeout: float = 1800.0) -> float:
    """Until every request is done, running the sweeper every 15 s as beat would; the last ``completed_at``."""
    from models.types import utcnow
    from worker.cancellation import sweeper

    deadline, next_sweep = time.monotonic() + timeout, time.monotonic() + 15
    ids = [request_id for request_id, _ in pending]
    while time.monotonic() < deadline:
        with session_scope() as session:
            rows = session.query(CancellationRequest.completed_at).filter(CancellationRequest.id.in_(ids)).all()
        done = [at for (at,) in rows if at is not None]
        if len(done) == len(rows):
            return max(at.timestamp() for at in done)
        if time.monotonic() >= next_sweep:
            with session_scope() as session:
                sweeper.sweep(session, utcnow())
            next_sweep = time.monotonic() + 15
        time.sleep(0.5)
    raise RuntimeError("not every request done in time")


def raw_round_trips(box: ShopifySandbox, client: ShopifyClient, n: int) -> list[float]:
    out = []
    for _ in range(n):
        gid = box.control.create_order(status="paid", line_items=2)
        started = time.perf_counter()
        variables = {"orderId": gid, "reason": "CUSTOMER", "restock": True,
                     "refundMethod": {"originalPaymentMethodsRefund": True}}  # fmt: skip
        job = client.execute("OrderCancel", variables)["orderCancel"]["job"]
        client.wait_for_job(job["id"])
        out.append((time.perf_counter() - started) * 1000)
    return out


def worker_env(mode: str, database_url: str, tmp: Path) -> dict[str, str]:
    env = {"DATABASE_URL": database_url, "DROPSYNC_REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
           "DROPSYNC_LOG_LEVEL": "WARNING"}  # fmt: skip
    if mode == "redis":
        env["REDIS_URL"] = REDIS_URL
    else:
        env["REDIS_URL"] = ""
        env["DROPSYNC_EMBEDDED_BROKER_PATH"] = str(tmp / f"broker-{uuid.uuid4().hex[:6]}.sqlite3")
    return env


def start_worker(env: dict[str, str], concurrency: int) -> Any:
    return start(worker_argv(concurrency, loglevel="WARNING"), env)


def latency(mode: str, n: int, database_url: str, tmp: Path, concurrency: int) -> None:
    box = _sandbox("plus")
    with box.serve(), ShopifyClient(box.config.shop_domain, box.config.access_token, api_url=box.base_url) as client:
        shop_id = create_shop(box.config.shop_domain, "s", box.config.access_token, api_url=box.base_url)
        outbox.set_publisher(lambda task, args: None)
        pending = prepare(box, client, shop_id, n + 5)
        proc = None
        if mode != "inprocess":
            env = worker_env(mode, database_url, tmp)
            outbox.set_publisher(broker_publisher(env))
            proc = start_worker(env, concurrency)
        try:
            samples = []
            for i, (request_id, so_id) in enumerate(pending):
                started, t0 = time.perf_counter(), time.time()
                confirm(so_id)
                if mode == "inprocess":
                    assert execution.run_request(session_scope, request_id, client) == "done"
                    took = (time.perf_counter() - started) * 1000
                else:
                    took = (wait_done(request_id) - t0) * 1000
                if i >= 5:  # the first few warm the worker up
                    samples.append(took)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        raw = raw_round_trips(box, client, n)
    print(f"[{mode}, concurrency {concurrency}] {n} cancellations: confirmation recorded -> cancelled and mirrored: "
          f"p50 {statistics.median(samples):.1f} ms, p99 {_pct(samples, 0.99):.1f} ms; "
          f"raw orderCancel + job polling (same run): p50 {statistics.median(raw):.1f} ms, "
          f"p99 {_pct(raw, 0.99):.1f} ms")  # fmt: skip


def points_per_cancellation(sample: int = 20) -> tuple[float, int]:
    box = _sandbox("plus")
    with box.serve(), CountingClient(box.config.shop_domain, box.config.access_token, api_url=box.base_url) as c:
        shop_id = create_shop(box.config.shop_domain, "s", box.config.access_token, api_url=box.base_url)
        outbox.set_publisher(lambda task, args: None)
        pending = prepare(box, c, shop_id, sample)
        c.points, c.calls = 0.0, 0
        for request_id, so_id in pending:
            confirm(so_id)
            execution.run_request(session_scope, request_id, c)
        return c.points / sample, c.calls // sample


def _record_throttled(box: ShopifySandbox) -> list[float]:
    """Wall times of the requests the sandbox answered THROTTLED (its bucket could not cover them)."""
    refused: list[float] = []
    take = box.bucket.take

    def recording_take(cost: int) -> bool:
        ok = take(cost)
        if not ok:
            refused.append(time.time())
        return ok

    box.bucket.take = recording_take  # type: ignore[method-assign]
    return refused


def _stop(proc: Any) -> None:
    """Stop the worker; its warm shutdown may outlast a short wait (tasks the sweeper queued): kill it then."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _parked(ids: list[int]) -> int:
    """Requests handed to a person (an intent failed or exhausted its retries)."""
    from models import ShopifyIntent

    with session_scope() as session:
        failed = session.query(ShopifyIntent).filter(ShopifyIntent.cancellation_request_id.in_(ids),
                                                     ShopifyIntent.state == "failed").count()  # fmt: skip
        return int(failed)


def throughput(n: int, database_url: str, tmp: Path, concurrency: int, mode: str) -> None:
    points, calls = points_per_cancellation()
    box = _sandbox("standard")
    with box.serve(), ShopifyClient(box.config.shop_domain, box.config.access_token, api_url=box.base_url) as client:
        shop_id = create_shop(box.config.shop_domain, "s", box.config.access_token, api_url=box.base_url)
        outbox.set_publisher(lambda task, args: None)
        pending = prepare(box, client, shop_id, n)
        box.control.refill_bucket()
        env = worker_env(mode, database_url, tmp)
        outbox.set_publisher(broker_publisher(env))
        proc = start_worker(env, concurrency)
        try:
            time.sleep(3)  # the worker is up before the clock starts
            refused = _record_throttled(box)
            spent_before = box.bucket.available()
            started = time.time()
            for _, so_id in pending:
                confirm(so_id)
            finished = wait_all(pending)
        finally:
            _stop(proc)
    elapsed = finished - started
    rate = n / elapsed
    restore = PLAN_RESTORE_RATES["standard"]
    allowed = restore / points
    burst = spent_before / points  # what the full bucket allows at once
    ideal = max((n - burst) / allowed, 0.0)
    late = [t for t in refused if t - started > 1.0]
    print(f"[throughput/{mode}, {concurrency} worker processes, bucket shared: "
          f"{'Redis' if mode == 'redis' else 'SQLite file'}] {n} simultaneous confirmations on the Standard plan "
          f"({restore} points/s): done in {elapsed:.1f} s = {rate:.2f} cancellations/s; one cancellation costs "
          f"{points:.1f} points in {calls} calls, so the throttle allows {allowed:.2f}/s sustained "
          f"(+{burst:.0f} from the full bucket: {ideal:.1f} s at best); "
          f"achieved {ideal / elapsed:.0%} of what the throttle allows; THROTTLED answers: {len(refused)} "
          f"({len(late)} after the first second); requests parked for a person: {_parked([r for r, _ in pending])}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--modes", default="inprocess,redis,embedded")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--throughput", type=int, default=0)
    parser.add_argument("--throughput-concurrency", type=int, default=8)
    parser.add_argument("--throughput-mode", default="redis")
    args = parser.parse_args()
    with bench_database("cancellation_bench") as database_url, tempfile.TemporaryDirectory() as tmp:
        for mode in [m for m in args.modes.split(",") if m]:
            latency(mode, args.n, database_url, Path(tmp), args.concurrency)
        if args.throughput:
            throughput(args.throughput, database_url, Path(tmp), args.throughput_concurrency, args.throughput_mode)


if __name__ == "__main__":
    main()
