"""``dropsync sync backfill`` as an operator runs it: a real sandbox process, the real command, killed
mid-run and resumed (PostgreSQL: two appliers, the production wiring)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import BulkBackfill, Order, Shop
from tests.cli.support import DROPSYNC, dropsync
from tests.support.receivers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ORDERS = 12_000  # above SPLIT_AT: a backfill in parts
SHOP = {"SHOPIFY_SHOP_DOMAIN": "parts.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "shpat_parts",
        "SHOPIFY_CLIENT_SECRET": "parts-secret"}  # fmt: skip


@pytest.fixture
def shop_env(committed_db: Engine) -> Iterator[dict[str, str]]:
    if committed_db.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL backfill path")
    port = free_port()
    env = {**os.environ, **SHOP}
    proc = subprocess.Popen([DROPSYNC, "sandbox", "shopify", "--port", str(port), "--orders", str(ORDERS)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        yield {**SHOP, "SHOPIFY_API_URL": f"http://127.0.0.1:{port}", "DROPSYNC_LOG_LEVEL": "WARNING"}
    finally:
        proc.terminate()
        proc.wait(10)


def _parts(engine: Engine) -> list[BulkBackfill]:
    with Session(engine) as session:
        return list(session.scalars(select(BulkBackfill).order_by(BulkBackfill.id)))


def test_a_backfill_killed_between_parts_is_resumed_to_every_order_once(
    shop_env: dict[str, str], committed_db: Engine
) -> None:
    env = {**os.environ, "COLUMNS": "200", **shop_env}
    proc = subprocess.Popen([DROPSYNC, "sync", "backfill"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while sum(p.status == "completed" for p in _parts(committed_db)) < 2:  # two parts in the ledger
        assert proc.poll() is None, "the backfill ended before it could be killed"
        assert time.monotonic() < deadline, "no part was completed in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    parts = _parts(committed_db)
    assert len(parts) == parts[0].parts == 8
    assert any(p.status != "completed" for p in parts)
    with Session(committed_db) as session:
        before = session.scalar(select(func.count()).select_from(Order))
        shop = session.scalars(select(Shop)).one()
        assert shop.orders_watermark is None  # the run is not complete
    assert 0 < (before or 0) < ORDERS

    resumed = dropsync("sync", "backfill", "--resume", str(parts[0].id), env=shop_env, timeout=180)
    assert resumed.code == 0, resumed.err
    assert f"backfill {parts[0].id}: 8 parts" in resumed.out
    with Session(committed_db) as session:
        count, distinct = session.execute(select(func.count(), func.count(func.distinct(Order.shopify_gid)))).one()
        assert count == distinct == ORDERS
        shop = session.scalars(select(Shop)).one()
        assert shop.orders_watermark == parts[0].created_at
    assert all(p.status == "completed" for p in _parts(committed_db))
    assert sum(p.orders_applied for p in _parts(committed_db)) >= ORDERS  # a batch in flight may apply twice
