"""One cost bucket per shop shared by every process (Redis, or a SQLite file on one machine): what one
process takes, another waits for; a reservation queues behind the others."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from integrations.shopify import throttle
from integrations.shopify.shared_bucket import BucketStore, RedisStore, SharedCostBucket, SqliteStore, share_buckets
from integrations.shopify.throttle import ThrottleStatus

STANDARD = ThrottleStatus(maximum_available=2000, currently_available=2000, restore_rate=100,
                          observed_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))  # fmt: skip


def _sqlite(tmp_path: Path) -> Callable[[], BucketStore]:
    return lambda: SqliteStore(tmp_path / "buckets.sqlite3")


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BucketStore]:
    """A factory of independent store handles on the same shared state (one per "process")."""
    if request.param == "sqlite":
        return _sqlite(tmp_path)
    url = request.getfixturevalue("redis_url")
    prefix = f"dropsync-test-bucket-{uuid.uuid4().hex[:8]}:"
    return lambda: RedisStore(url, prefix)


def _process(stores: Callable[[], BucketStore], waits: list[float]) -> SharedCostBucket:
    return SharedCostBucket(stores(), "shop.myshopify.com@http://sandbox", sleep=waits.append)


def test_what_one_process_takes_another_waits_for(stores: Callable[[], BucketStore]) -> None:
    waits: list[float] = []
    first, second = _process(stores, waits), _process(stores, waits)
    assert first.acquire(500) == 0  # nothing known yet: the first response seeds the model
    first.observe(STANDARD, taken=500, actual=500)
    assert second.known
    assert first.acquire(1500) == 0
    waited = second.acquire(1000)  # 500 left: 500 more points at 100/s
    assert waited == pytest.approx(5.0, abs=0.2)
    assert waits == [waited]


def test_reservations_queue_first_come_first_served(stores: Callable[[], BucketStore]) -> None:
    waits: list[float] = []
    processes = [_process(stores, waits) for _ in range(4)]
    processes[0].observe(STANDARD)
    for process in processes:
        process.acquire(1000)
    assert waits == pytest.approx([10.0, 20.0], abs=0.3)  # the 3rd and 4th wait for 1000 and 2000 points


def test_points_of_a_request_that_got_no_answer_come_back(stores: Callable[[], BucketStore]) -> None:
    waits: list[float] = []
    first, second = _process(stores, waits), _process(stores, waits)
    first.observe(STANDARD)
    first.acquire(2000)
    first.release(2000)  # never sent
    assert second.acquire(1000) == 0
    # Shopify's answer wins downwards: another client spent what we thought we had.
    second.observe(ThrottleStatus(2000, 300, 100, STANDARD.observed_at), taken=1000, actual=100)
    assert second.available() == pytest.approx(300, abs=30)


def test_share_buckets_makes_the_client_use_them(tmp_path: Path) -> None:
    try:
        share_buckets(path=tmp_path / "buckets.sqlite3")
        assert isinstance(throttle.bucket_for("a.myshopify.com@x"), SharedCostBucket)
    finally:
        throttle.use_shared_buckets(None)
    assert isinstance(throttle.bucket_for("a.myshopify.com@x"), throttle.CostBucket)
