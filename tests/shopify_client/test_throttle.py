"""The local model of a shop's cost bucket: wait instead of being THROTTLED, never over-spend."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest

from integrations.shopify.throttle import CostBucket, ThrottleStatus, bucket_for, forget_buckets, parse_cost

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic time that only moves when a waiter waits (single-threaded tests)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def status(available: float, maximum: float = 2000, rate: float = 100) -> ThrottleStatus:
    return ThrottleStatus(maximum_available=maximum, currently_available=available, restore_rate=rate, observed_at=NOW)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bucket(clock: FakeClock) -> CostBucket:
    return CostBucket(clock, wait=clock.wait)


def test_unknown_bucket_lets_the_first_request_through(bucket: CostBucket) -> None:
    assert not bucket.known
    assert bucket.acquire(500) == 0


def test_waits_for_exactly_the_missing_points(bucket: CostBucket, clock: FakeClock) -> None:
    bucket.observe(status(50))
    assert bucket.acquire(200) == pytest.approx(1.5)  # 150 points missing at 100/s
    assert bucket.available() == pytest.approx(0)
    assert bucket.acquire(100) == pytest.approx(1.0)
    assert clock.waits == pytest.approx([1.5, 1.0])


def test_refills_at_the_restore_rate_up_to_the_maximum(bucket: CostBucket, clock: FakeClock) -> None:
    bucket.observe(status(0, maximum=1000, rate=50))
    clock.now += 4
    assert bucket.available() == pytest.approx(200)
    clock.now += 1000
    assert bucket.available() == pytest.approx(1000)
    assert bucket.acquire(1000) == 0


def test_actual_cost_is_refunded_and_the_server_caps_our_count(bucket: CostBucket) -> None:
    bucket.observe(status(1000))
    bucket.acquire(300)
    bucket.observe(status(960), taken=300, actual=40)
    assert bucket.available() == pytest.approx(960)
    # Another process spent from the same bucket: the server's lower figure wins.
    bucket.acquire(100)
    bucket.observe(status(500), taken=100, actual=100)
    assert bucket.available() == pytest.approx(500)


def test_points_of_unanswered_requests_survive_a_higher_server_figure(bucket: CostBucket) -> None:
    bucket.observe(status(1000))
    bucket.acquire(600)  # request A in flight, not yet seen by the server
    bucket.acquire(100)  # request B
    bucket.observe(status(900), taken=100, actual=100)  # B answered first; the server hasn't charged A
    assert bucket.available() == pytest.approx(300)


def test_release_returns_the_points(bucket: CostBucket) -> None:
    bucket.observe(status(100))
    bucket.acquire(100)
    bucket.release(100)
    assert bucket.available() == pytest.approx(100)


def test_a_cost_above_the_bucket_waits_for_a_full_bucket_not_forever(bucket: CostBucket) -> None:
    bucket.observe(status(0, maximum=1000, rate=100))
    assert bucket.acquire(5000) == pytest.approx(10)


def _frozen() -> float:
    """A clock that never moves: no points come back by themselves, only by ``release``/``observe``."""
    return 100.0


def _queued(bucket: CostBucket) -> int:
    return len(bucket._queue)  # the waiters parked in ``acquire`` (tests only)


def _until(condition: Callable[[], bool]) -> None:
    """Wait for the other threads to reach a state the test already knows they will reach."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the threads never got there"
        time.sleep(0.005)


def test_threads_never_spend_the_same_points() -> None:
    bucket = CostBucket(clock=_frozen)  # condition waits, but no refill: the 100 points are all there is
    bucket.observe(status(100, maximum=100, rate=1))
    granted: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        bucket.acquire(30)
        with lock:
            granted.append(30)

    threads = [threading.Thread(target=take, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    _until(lambda: len(granted) + _queued(bucket) == 8 and _queued(bucket) == 5)
    with lock:
        assert sum(granted) == 90  # three of eight fit in 100 points; the others are still waiting
    assert bucket.available() == pytest.approx(10)
    bucket.observe(status(1000, maximum=1000, rate=1000))  # let the rest through
    bucket.release(1000)
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert sum(granted) == 240


def test_a_refund_wakes_the_waiters_at_once() -> None:
    bucket = CostBucket(clock=_frozen)  # no refill at all: only the refunds can wake a waiter
    bucket.observe(status(20, maximum=1000, rate=1))

    def take() -> None:
        for _ in range(10):
            bucket.acquire(20)
            bucket.observe(status(20, maximum=1000, rate=1), taken=20, actual=0)

    threads = [threading.Thread(target=take, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)


def test_waiters_are_served_first_come_first_served() -> None:
    bucket = CostBucket(clock=_frozen)
    bucket.observe(status(0, maximum=1000, rate=200))
    order: list[str] = []

    def take(name: str, cost: float) -> None:
        bucket.acquire(cost)
        order.append(name)

    big = threading.Thread(target=take, args=("big", 100))
    big.start()
    _until(lambda: _queued(bucket) == 1)  # the big query waits first
    small = [threading.Thread(target=take, args=(f"small{i}", 1)) for i in range(5)]
    for thread in small:
        thread.start()
    _until(lambda: _queued(bucket) == 6)
    bucket.release(1)  # enough for a small one, not for the big one at the head: nobody may pass it
    assert order == []
    bucket.release(999)
    for thread in [big, *small]:
        thread.join(timeout=30)
    assert order[0] == "big"
    assert sorted(order[1:]) == [f"small{i}" for i in range(5)]


def test_one_bucket_per_shop_in_the_process() -> None:
    forget_buckets()
    assert bucket_for("a.myshopify.com") is bucket_for("a.myshopify.com")
    assert bucket_for("a.myshopify.com") is not bucket_for("b.myshopify.com")


def test_parse_cost_reads_shopifys_extensions() -> None:
    extensions = {
        "cost": {
            "requestedQueryCost": 101,
            "actualQueryCost": 46,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1954, "restoreRate": 100.0},
        }
    }
    cost = parse_cost(extensions, now=NOW)
    assert cost is not None
    assert cost.throttle is not None
    assert (cost.requested, cost.actual) == (101, 46)
    assert cost.throttle == status(1954)
    assert parse_cost(None) is None
    assert parse_cost({"cost": {"requestedQueryCost": 5, "throttleStatus": {"maximumAvailable": "x"}}}) == (
        parse_cost({"cost": {"requestedQueryCost": 5}})
    )
