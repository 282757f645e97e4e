"""Liveness with a real broker and a real worker: the sweeper's retry message is lost from Redis (the
queue flushed, as a restart without persistence does) and the Shopify action still happens, once."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from models import CancellationRequest, Order, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from tests.cancellation.faults import LossyClient
from worker.cancellation import execution, service
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.db import session_scope
from worker.runtime import ManagedProcess, worker_argv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.usefixtures("published")]


@pytest.fixture
def lossy(sandbox: ShopifySandbox) -> Iterator[LossyClient]:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


def _sweep_in_a_process(env: dict[str, str], at: dt.datetime) -> int:
    """One sweeper pass in its own process, publishing to the real broker; returns how many it retried."""
    code = textwrap.dedent(f"""
        import datetime as dt
        from worker.cancellation import sweeper
        from worker.db import session_scope
        with session_scope() as session:
            print(sweeper.sweep(session, dt.datetime.fromisoformat({at.isoformat()!r})).retried)
    """)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def _intent_state(request_id: int) -> str:
    with session_scope() as session:
        return session.scalars(
            select(ShopifyIntent.state).where(ShopifyIntent.cancellation_request_id == request_id)
        ).one()


def test_a_retry_flushed_from_redis_is_sent_again_and_runs_once(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, redis_url: str, database_url: str, tmp_path: Path
) -> None:
    prefix = f"{os.environ['DROPSYNC_REDIS_KEY_PREFIX']}{tmp_path.name}:"
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DROPSYNC_REDIS_KEY_PREFIX": prefix,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    gid = sandbox.control.create_order(status="paid", line_items=1)
    with session_scope() as session:
        order = session.get_one(Order, mirror(lossy, shop.id, gid))
        request_id = service.create_request(session, order, reason="out_of_stock", actor="operator:test").id
    lossy.lose_before = 1  # the first attempt times out before Shopify saw it: unknown, retried later
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"

    later = dt.datetime.now(dt.UTC) + ik.dispatch_lease() + dt.timedelta(minutes=5)
    assert _sweep_in_a_process(env, later) == 1
    broker = redis.Redis.from_url(redis_url)
    queued = broker.keys(f"{prefix}*")
    assert queued  # the retry is in Redis…
    broker.delete(*queued)  # …and lost: the queue flushed, as a restart without persistence does
    assert _sweep_in_a_process(env, later) == 0  # the lease holds: no duplicate while it may still come

    worker = ManagedProcess("worker", worker_argv(concurrency=1), env=env, log_path=tmp_path / "worker.log").start()
    try:
        assert _sweep_in_a_process(env, later + ik.dispatch_lease() + dt.timedelta(seconds=1)) == 1
        deadline = time.monotonic() + 60
        while _intent_state(request_id) != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _intent_state(request_id) == "succeeded", (tmp_path / "worker.log").read_text()[-3000:]
        deadline = time.monotonic() + 30
        with session_scope() as session:
            while session.get_one(CancellationRequest, request_id).state != s.DONE and time.monotonic() < deadline:
                time.sleep(0.3)
                session.expire_all()
            assert session.get_one(CancellationRequest, request_id).state == s.DONE
    finally:
        worker.stop()
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
