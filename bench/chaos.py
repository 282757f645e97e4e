"""Chaos run: the whole stack as real processes under worker SIGKILLs and broker restarts.

Starts both sandboxes (Shopify with request and webhook faults, AliExpress with one-shot gateway
faults), a private Redis that keeps nothing across restarts (``--save '' --appendonly no``, its own port:
the machine's Redis is never touched), a fresh database on the PostgreSQL server, and ``dropsync web``,
two Celery workers and beat as child processes. For ``--minutes`` it places orders, asks for
cancellations and refunds of them, SIGKILLs a worker (its whole process group, or one pool child)
every ``--kill-every`` seconds and kills and restarts Redis (every queued message lost) every
``--redis-every`` seconds. Then faults stop and it waits for the stack to settle, and prints:

- orders placed, requests made, worker kills, Redis restarts;
- double moves: orders on which the Shopify sandbox applied any mutation more than once (its
  per-order mutation counters);
- stuck intents after settling: Shopify intents still live (neither done nor handed to a person), and
  requests still waiting for Shopify;
- ledger mismatches: orders whose ledger copy differs from the sandbox (missing, cancelled or not,
  amount refunded).

    .venv/bin/python -m bench.chaos --minutes 10
    .venv/bin/python -m bench.chaos --minutes 1 --kill-every 5 --redis-every 20   # a short run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text

if TYPE_CHECKING:
    from worker.runtime import ManagedProcess

PG_ADMIN = os.environ.get("CHAOS_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_PORT = int(os.environ.get("CHAOS_REDIS_PORT", "6390"))
SHOPIFY_FAULTS = {
    "error_rate": 0.04, "drop_response_rate": 0.04, "timeout_rate": 0.02, "timeout_seconds": 6.0,
    "webhook_drop_rate": 0.1, "webhook_duplicate_rate": 0.1,
}  # fmt: skip
ALIEXPRESS_FAULTS = ("http_500", "isp_error", "rate_limit", "malformed", "not_json", "timeout")


@dataclass
class Counters:
    orders: int = 0
    requests: int = 0
    worker_kills: int = 0
    pool_child_kills: int = 0
    redis_restarts: int = 0
    aliexpress_faults: int = 0
    kinds: dict[str, str] = field(default_factory=dict)  # order gid -> paid | submitted | fulfilled | supplier
    placed_at: dict[str, float] = field(default_factory=dict)
    requested: set[str] = field(default_factory=set)


class PrivateRedis:
    """A Redis this script owns: no persistence, so a restart loses every queued message."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 (lives with the child)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError(f"private redis on {self.port} did not start (see {self.workdir / 'redis.log'})")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, down_seconds: float) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()


def _create_database(name: str) -> str:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Workers:
    """The worker processes: killed with SIGKILL (the whole group, or one pool child) and replaced."""

    def __init__(self, env: dict[str, str], workdir: Path, concurrencies: list[int]) -> None:
        from worker.runtime import ManagedProcess, worker_argv

        def make(i: int) -> ManagedProcess:
            argv = worker_argv(concurrency=concurrencies[i])
            return ManagedProcess(f"worker{i}", argv, env=env, log_path=workdir / f"worker{i}.log")

        self._make: Callable[[int], ManagedProcess] = make
        self.procs = [make(i).start() for i in range(len(concurrencies))]

    def kill_one(self, rng: random.Random, counters: Counters) -> None:
        index = rng.randrange(len(self.procs))
        proc = self.procs[index]
        assert proc.process is not None
        children = _children(proc.process.pid)
        if children and rng.random() < 0.4:
            # One pool child: the parent notices, the task is rejected (task_reject_on_worker_lost).
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(children), signal.SIGKILL)
            counters.pool_child_kills += 1
        else:
            # The whole worker: its unacked message stays invisible for the visibility timeout (1 h).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.process.pid, signal.SIGKILL)
            proc.process.wait()
            self.procs[index] = self._make(index).start()
        counters.worker_kills += 1

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


def _place_order(stack: Any, rng: random.Random, counters: Counters) -> None:
    shopify, aliexpress = stack.shopify, stack.aliexpress
    roll = rng.random()
    if roll < 0.15:
        supplier_id = aliexpress.paid_order(f"{rng.randint(5, 40)}.{rng.randint(0, 99):02d}")
        gid = shopify.control.create_order(status="paid", line_items=1, aliexpress_order_id=supplier_id)
        kind = "supplier"
    else:
        gid = shopify.control.create_order(status="paid", line_items=rng.randint(1, 3))
        kind = "paid"
        if roll < 0.35:
            shopify.control.fulfillment(gid, "submit")
            kind = "submitted"
        elif roll < 0.55:
            for step in ("submit", "accept", "fulfill"):
                shopify.control.fulfillment(gid, step)
            kind = "fulfilled"
    counters.kinds[gid] = kind
    counters.placed_at[gid] = time.monotonic()
    counters.orders += 1


def _request_cancellations(counters: Counters, min_age: float) -> None:
    """Ask for a cancellation (or, once fulfilled, a refund) of orders mirrored at least ``min_age`` ago."""
    from models import Order
    from worker.cancellation import service
    from worker.cancellation import states as s
    from worker.db import session_scope

    now = time.monotonic()
    due = [g for g, k in counters.kinds.items() if k != "supplier" and g not in counters.requested
           and now - counters.placed_at[g] >= min_age]  # fmt: skip
    for gid in due[:10]:
        with contextlib.suppress(Exception), session_scope() as session:  # a broker or DB hiccup: next tick
            order = session.scalar(select(Order).where(Order.shopify_gid == gid))
            if order is None:
                continue
            reason = "damaged" if counters.kinds[gid] == "fulfilled" else "out_of_stock"
            request = service.create_request(session, order, reason=reason, actor="operator:chaos")
            if request.state == s.NEEDS_APPROVAL:
                service.approve(session, request, "operator:chaos")
            counters.requested.add(gid)
            counters.requests += 1


def _chaos(stack: Any, workers: Workers, redis: PrivateRedis, args: argparse.Namespace, counters: Counters) -> None:
    rng = random.Random(args.seed)
    stack.shopify.control.set_faults(**SHOPIFY_FAULTS)
    end = time.monotonic() + args.minutes * 60
    next_kill = time.monotonic() + args.kill_every
    next_redis = time.monotonic() + args.redis_every
    next_order = time.monotonic()
    stop = threading.Event()

    def requester() -> None:
        while not stop.is_set():
            _request_cancellations(counters, min_age=15.0)
            stop.wait(2.0)

    thread = threading.Thread(target=requester, daemon=True)
    thread.start()
    try:
        while (now := time.monotonic()) < end:
            if now >= next_order:
                with contextlib.suppress(Exception):
                    _place_order(stack, rng, counters)
                next_order = now + 1.0 / args.orders_per_second
            if now >= next_kill:
                workers.kill_one(rng, counters)
                next_kill = now + rng.uniform(0.5, 1.5) * args.kill_every
            if now >= next_redis:
                redis.restart(down_seconds=rng.uniform(0.5, 3.0))
                counters.redis_restarts += 1
                next_redis = now + rng.uniform(0.8, 1.2) * args.redis_every
            if rng.random() < 0.02:
                stack.aliexpress.fail_next(rng.choice(ALIEXPRESS_FAULTS))
                counters.aliexpress_faults += 1
            time.sleep(0.1)
        _progress(counters, "chaos over")
    finally:
        stop.set()
        thread.join()


def _progress(counters: Counters, what: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {what}: {counters.orders} orders, {counters.requests} requests, "
          f"{counters.worker_kills} worker kills, {counters.redis_restarts} redis restarts", flush=True)  # fmt: skip


@dataclass
class Verdict:
    live_intents: int
    waiting_requests: int
    failed_intents: int
    needs_operator: int
    double_moves: list[str]
    mismatches: list[str]
    unhandled_inbox: int
    intents: int = 0
    sweeper_dispatches: int = 0
    intents_redispatched: int = 0
    request_states: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return not (self.live_intents or self.waiting_requests or self.mismatches or self.unhandled_inbox)


def _verdict(stack: Any, counters: Counters) -> Verdict:
    from models import CancellationRequest, Order, ShopifyIntent, WebhookDelivery
    from models.cancellation import LIVE_INTENT_STATES
    from worker.cancellation import states as s
    from worker.db import session_scope

    control = stack.shopify.control
    with session_scope() as session:
        live = session.scalar(select(func.count()).where(ShopifyIntent.state.in_(LIVE_INTENT_STATES))) or 0
        intents, dispatches, redispatched = session.execute(
            select(func.count(), func.coalesce(func.sum(ShopifyIntent.dispatches), 0),
                   func.count().filter(ShopifyIntent.dispatches > 0))
        ).one()  # fmt: skip
        failed = session.scalar(select(func.count()).where(ShopifyIntent.state == "failed")) or 0
        states = dict(
            session.execute(select(CancellationRequest.state, func.count()).group_by(CancellationRequest.state)).all()
        )
        unhandled = session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.handled_at.is_(None))
        )
        ledger = {o.shopify_gid: (o.cancelled_at is not None, o.total_refunded) for o in session.scalars(select(Order))}
    double, mismatches = [], []
    for gid in counters.kinds:
        applied = control.applied_counts(gid)
        if any(n > 1 for n in applied.values()):
            double.append(f"{gid} {applied}")
        snap = control.snapshot(gid)
        want = (snap["cancelled_at"] is not None, Decimal(str(snap["total_refunded"])))
        if gid not in ledger:
            mismatches.append(f"{gid} missing from the ledger")
        elif ledger[gid] != want:
            mismatches.append(f"{gid} ledger {ledger[gid]} vs sandbox {want}")
    return Verdict(
        live_intents=live, waiting_requests=states.get(s.SHOPIFY_ACTION, 0), failed_intents=failed,
        needs_operator=states.get(s.NEEDS_OPERATOR, 0), double_moves=double, mismatches=mismatches,
        unhandled_inbox=unhandled or 0, intents=intents, sweeper_dispatches=int(dispatches),
        intents_redispatched=redispatched, request_states={str(k): int(n) for k, n in states.items()},
    )  # fmt: skip


def _settle(stack: Any, counters: Counters, timeout: float) -> tuple[Verdict, float]:
    from worker.stack import send_task

    stack.shopify.control.clear_faults()
    started = time.monotonic()
    verdict = _verdict(stack, counters)
    last_reconcile = 0.0
    while not verdict.settled and time.monotonic() - started < timeout:
        if time.monotonic() - last_reconcile > 60:
            with contextlib.suppress(Exception):
                send_task("mirror.reconcile_all")  # what beat also does every 30 s here
            last_reconcile = time.monotonic()
        time.sleep(10)
        verdict = _verdict(stack, counters)
        print(f"  settling {time.monotonic() - started:.0f} s: {verdict.live_intents} live intents, "
              f"{verdict.waiting_requests} requests waiting for Shopify, {len(verdict.mismatches)} ledger "
              f"mismatches, {verdict.unhandled_inbox} unhandled deliveries", flush=True)  # fmt: skip
    return verdict, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=10.0, help="seconds between worker SIGKILLs (mean)")
    parser.add_argument("--redis-every", type=float, default=50.0, help="seconds between Redis restarts (mean)")
    parser.add_argument("--orders-per-second", type=float, default=0.5)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and the database")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dropsync-chaos-"))
    db_name = f"dropsync_chaos_{os.getpid()}"
    redis = PrivateRedis(REDIS_PORT, workdir)
    redis.start()
    env = {
        "DATABASE_URL": _create_database(db_name), "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "DROPSYNC_SECRET_KEY": Fernet.generate_key().decode(), "DROPSYNC_ENV": "development",
        "DROPSYNC_LOG_FORMAT": "json", "DROPSYNC_RECONCILE_INTERVAL_SECONDS": "30",
        "DROPSYNC_RECONCILE_OVERLAP_SECONDS": "120", "SHOPIFY_TIMEOUT_SECONDS": "5",
        "ALIEXPRESS_TIMEOUT_SECONDS": "5",
    }  # fmt: skip
    counters, stack, workers = Counters(), None, None
    started = time.monotonic()
    print(f"chaos: work dir {workdir}, database {db_name}, private redis :{REDIS_PORT}", flush=True)
    try:
        from worker.stack import StackOptions, start_stack, subscribe_webhooks

        stack = start_stack(
            StackOptions(workdir=workdir, use_sandboxes=True, seed_orders=5, concurrency=2, extra_env=env),
            lambda message: print(f"  {message}", flush=True),
        )
        print(f"  {subscribe_webhooks(stack)} webhook topics subscribed", flush=True)
        workers = Workers(stack.env, workdir / "logs", [2])  # a second worker beside the stack's own
        stack_worker = next(p for p in stack.processes if p.name == "worker")
        stack.processes.remove(stack_worker)
        workers.procs.insert(0, stack_worker)
        workers._make = _remake(workers._make, stack.env, workdir / "logs")
        _chaos(stack, workers, redis, args, counters)
        verdict, settle_seconds = _settle(stack, counters, args.settle_timeout)
        _report(args, counters, verdict, settle_seconds, time.monotonic() - started)
    finally:
        if workers is not None:
            workers.stop()
        if stack is not None:
            stack.stop()
        redis.kill()
        if not args.keep:
            _drop_database(db_name)
            shutil.rmtree(workdir, ignore_errors=True)


def _remake(make: Callable[[int], ManagedProcess], env: dict[str, str], logs: Path) -> Callable[[int], ManagedProcess]:
    """Worker 0 was started by the stack (concurrency 2); its replacements have the same shape."""
    from worker.runtime import ManagedProcess, worker_argv

    def remake(index: int) -> ManagedProcess:
        if index == 0:
            return ManagedProcess("worker", worker_argv(concurrency=2), env=env, log_path=logs / "worker.log")
        return make(index - 1)

    return remake


def _report(args: argparse.Namespace, c: Counters, v: Verdict, settle: float, total: float) -> None:
    load = os.getloadavg()
    kinds: dict[str, int] = {}
    for kind in c.kinds.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    lines = [
        "",
        f"chaos run: {args.minutes:g} min of faults, settled in {settle:.0f} s (total {total:.0f} s)",
        f"  orders placed:                 {c.orders} ({_counts(kinds)})",
        f"  cancellation/refund requests:  {c.requests} (now {_counts(v.request_states)})",
        f"  Shopify intents:               {v.intents}; retries sent by the sweeper: {v.sweeper_dispatches} "
        f"(for {v.intents_redispatched} intents whose message was lost or whose retry came due)",
        f"  worker kills (SIGKILL):        {c.worker_kills} ({c.pool_child_kills} pool children, "
        f"{c.worker_kills - c.pool_child_kills} whole workers)",
        f"  redis restarts (no persistence): {c.redis_restarts}",
        f"  aliexpress faults injected:    {c.aliexpress_faults}",
        f"  double moves:                  {len(v.double_moves)}",
        f"  stuck intents after settling:  {v.live_intents} (requests still waiting for Shopify: {v.waiting_requests})",
        f"  handed to a person:            {v.failed_intents} failed intents, {v.needs_operator} requests",
        f"  ledger mismatches:             {len(v.mismatches)}",
        f"  unhandled webhook deliveries:  {v.unhandled_inbox}",
        f"  load average (1/5/15 min):     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    ]
    print("\n".join(lines))
    for line in (v.double_moves + v.mismatches)[:20]:
        print(f"    {line}")


def _counts(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))


if __name__ == "__main__":
    main()
