"""A real Celery worker on Redis, SIGKILLed at each point of the execution path (test failpoints).

``DROPSYNC_FAILPOINT`` (see ``worker.cancellation.failpoints``) kills the process executing the intent
after claiming it, after Shopify applied the mutation but before our commit, or after our commit but
before the ack; the test then kills the whole worker and starts a new one. After recovery the Shopify
sandbox's own record shows exactly one cancellation per order and every intent is terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from models import CancellationRequest, Order, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from worker.cancellation import service
from worker.cancellation import states as s
from worker.db import session_scope
from worker.runtime import ManagedProcess, worker_argv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.usefixtures("published")]


def _env(database_url: str, redis_url: str, tmp_path: Path, point: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "DROPSYNC_REDIS_KEY_PREFIX": f"{os.environ['DROPSYNC_REDIS_KEY_PREFIX']}{tmp_path.name}:",
        "DROPSYNC_TASK_TIME_LIMIT": "6", "DROPSYNC_TASK_VISIBILITY_TIMEOUT": "8",
        "DROPSYNC_INTENT_STALE_SECONDS": "3", "DROPSYNC_FAILPOINT": point,
        "DROPSYNC_FAILPOINT_MARKER": str(tmp_path / "failpoint"), "PYTHONPATH": str(ROOT),
    }  # fmt: skip


def _worker(env: dict[str, str], log: Path) -> ManagedProcess:
    return ManagedProcess("worker", worker_argv(concurrency=1), env=env, log_path=log).start()


def _send(env: dict[str, str], task: str, arg: int) -> None:
    code = f"from worker.celery_app import app; app.send_task({task!r}, args=[{arg}])"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, cwd=ROOT)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-4000:] if log.exists() else ''}")


def _request_state(request_id: int) -> str:
    with session_scope() as session:
        return session.get_one(CancellationRequest, request_id).state


@pytest.mark.parametrize("point", ["after_claim", "after_mutation", "after_commit"])
def test_sigkill_at_each_point_still_cancels_exactly_once(
    point: str, sandbox: ShopifySandbox, shop: Shop, client: object, database_url: str, redis_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    gids = [sandbox.control.create_order(status="paid", line_items=2) for _ in range(2)]
    request_ids = []
    for gid in gids:
        order_id = mirror(client, shop.id, gid)  # type: ignore[arg-type]
        with session_scope() as session:
            order = session.get_one(Order, order_id)
            request = service.create_request(session, order, reason="out_of_stock", actor="operator:test")
            assert request.state == s.SHOPIFY_ACTION
            request_ids.append(request.id)
    env, log = _env(database_url, redis_url, tmp_path, point), tmp_path / "worker.log"
    marker = tmp_path / "failpoint"
    first = _worker(env, log)
    try:
        for request_id in request_ids:
            _send(env, service.ADVANCE_TASK, request_id)
        _wait(marker.exists, 60, f"the failpoint {point}", log)
        time.sleep(0.3)
    finally:
        first.kill()  # the whole process group: nothing acked, nothing restored on the way out
    second = _worker(env, log)
    try:
        for request_id in request_ids:
            _wait(lambda rid=request_id: _request_state(rid) == s.DONE, 90, f"request {request_id} done", log)  # type: ignore[misc]
    finally:
        second.stop()
    for gid in gids:
        assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}, gid
    with session_scope() as session:
        states = session.scalars(select(ShopifyIntent.state).where(ShopifyIntent.shop_id == shop.id)).all()
    assert sorted(states) == ["succeeded", "succeeded"]
