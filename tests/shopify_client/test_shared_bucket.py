"""One cost bucket per shop shared by every process (Redis, or a SQLite file on one machine): what one
process takes, another waits for; reservations queue first come, first served; points given back
shorten the waits."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from integrations.shopify import throttle
from integrations.shopify.shared_bucket import BucketStore, RedisStore, SharedCostBucket, SqliteStore, share_buckets
from integrations.shopify.throttle import ThrottleStatus

KEY = "shop.myshopify.com@http://sandbox"
AT = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
STANDARD = ThrottleStatus(maximum_available=2000, currently_available=2000, restore_rate=100, observed_at=AT)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BucketStore]:
    """A factory of independent store handles on the same shared state (one per "process")."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "buckets.sqlite3")
    url = request.getfixturevalue("redis_url")
    prefix = f"dropsync-test-bucket-{uuid.uuid4().hex[:8]}:"
    return lambda: RedisStore(url, prefix)


def _take(store: BucketStore, cost: float) -> float:
    """Seconds the reservation must wait (what ``acquire`` sleeps, re-checking)."""
    return store.call(KEY, "take", cost)[1]


def test_what_one_process_takes_another_waits_for(stores: Callable[[], BucketStore]) -> None:
    first, second = SharedCostBucket(stores(), KEY), SharedCostBucket(stores(), KEY)
    assert first.acquire(500) == 0  # nothing known yet: the first response seeds the model
    first.observe(STANDARD, taken=500, actual=500)
    assert second.known
    assert first.acquire(1500) == 0
    assert _take(stores(), 1000) == pytest.approx(5.0, abs=0.2)  # 500 left: 500 more at 100/s


def test_reservations_queue_first_come_first_served(stores: Callable[[], BucketStore]) -> None:
    SharedCostBucket(stores(), KEY).observe(STANDARD)
    waits = [_take(stores(), 1000) for _ in range(4)]
    assert waits == pytest.approx([0, 0, 10.0, 20.0], abs=0.3)


def test_points_given_back_shorten_the_wait(stores: Callable[[], BucketStore]) -> None:
    first, second = SharedCostBucket(stores(), KEY), SharedCostBucket(stores(), KEY)
    first.observe(STANDARD)
    first.acquire(2000)  # a query that asks for the whole bucket…
    started = time.monotonic()
    first.observe(ThrottleStatus(2000, 1970, 100, AT), taken=2000, actual=30)  # …and costs 30: 1970 back
    assert second.acquire(1000) == 0
    assert time.monotonic() - started < 1
    assert second.available() == pytest.approx(970, abs=30)


def test_a_waiting_request_goes_when_points_come_back(stores: Callable[[], BucketStore]) -> None:
    first = SharedCostBucket(stores(), KEY)
    first.observe(STANDARD)
    first.acquire(2000)
    second_store = stores()
    assert _take(second_store, 50) == pytest.approx(0.5, abs=0.1)  # queued behind the 2000
    first.release(2000)  # never sent: the points come back, the queue moves at once
    assert second_store.call(KEY, "check", 50)[1] == 0


def test_shopify_wins_downwards(stores: Callable[[], BucketStore]) -> None:
    bucket = SharedCostBucket(stores(), KEY)
    bucket.observe(STANDARD)
    bucket.acquire(100)
    bucket.observe(ThrottleStatus(2000, 300, 100, AT), taken=100, actual=100)  # another client spent it
    assert bucket.available() == pytest.approx(300, abs=30)


def test_share_buckets_makes_the_client_use_them(tmp_path: Path) -> None:
    try:
        share_buckets(path=tmp_path / "buckets.sqlite3")
        assert isinstance(throttle.bucket_for("a.myshopify.com@x"), SharedCostBucket)
    finally:
        throttle.use_shared_buckets(None)
    assert isinstance(throttle.bucket_for("a.myshopify.com@x"), throttle.CostBucket)


def test_the_file_store_keeps_its_model_without_an_fsync_per_call(tmp_path: Path) -> None:
    """Two operations a Shopify call: an fsync each made every call of every process wait on the disk."""
    path = tmp_path / "buckets.sqlite3"
    store = SqliteStore(path)
    store.call("shop", "observe", 0.0, 2000.0, 1500.0, 100.0, 0.0, 0.0)
    db = store._connect()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: the WAL is synced at checkpoints
    assert SqliteStore(path).call("shop", "peek")[2]  # another process's store reads what was observed
