"""The local model of a shop's cost bucket: wait instead of being THROTTLED, never over-spend."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from integrations.shopify.throttle import CostBucket, ThrottleStatus, bucket_for, forget_buckets, parse_cost

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def status(available: float, maximum: float = 2000, rate: float = 100) -> ThrottleStatus:
    return ThrottleStatus(maximum_available=maximum, currently_available=available, restore_rate=rate, observed_at=NOW)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_unknown_bucket_lets_the_first_request_through(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    assert not bucket.known
    assert bucket.reserve(500) == 0


def test_waits_for_exactly_the_missing_points(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(50))
    assert bucket.reserve(200) == pytest.approx(1.5)  # 150 points missing at 100/s
    # The reservation is a debt: the next caller queues behind it.
    assert bucket.reserve(100) == pytest.approx(2.5)


def test_refills_at_the_restore_rate_up_to_the_maximum(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(0, maximum=1000, rate=50))
    clock.now += 4
    assert bucket.available() == pytest.approx(200)
    clock.now += 1000
    assert bucket.available() == pytest.approx(1000)
    assert bucket.reserve(1000) == 0


def test_actual_cost_is_refunded_and_the_server_caps_our_count(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(1000))
    bucket.reserve(300)
    bucket.observe(status(960), reserved=300, actual=40)
    assert bucket.available() == pytest.approx(960)
    # Another process spent from the same bucket: the server's lower figure wins.
    bucket.reserve(100)
    bucket.observe(status(500), reserved=100, actual=100)
    assert bucket.available() == pytest.approx(500)


def test_in_flight_reservations_survive_a_higher_server_figure(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(1000))
    bucket.reserve(600)  # request A in flight, not yet seen by the server
    bucket.reserve(100)  # request B
    bucket.observe(status(900), reserved=100, actual=100)  # B answered first; server hasn't charged A
    assert bucket.available() == pytest.approx(300)


def test_release_returns_a_reservation(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(100))
    bucket.reserve(100)
    bucket.release(100)
    assert bucket.available() == pytest.approx(100)


def test_a_cost_above_the_bucket_waits_for_a_full_bucket_not_forever(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(0, maximum=1000, rate=100))
    assert bucket.reserve(5000) == pytest.approx(10)


def test_concurrent_reservations_never_promise_the_same_points(clock: FakeClock) -> None:
    bucket = CostBucket(clock)
    bucket.observe(status(0, maximum=100_000, rate=100))
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(100):
            wait = bucket.reserve(10)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 800 reservations of 10 points at 100/s: each waits for a distinct 0.1 s slot.
    assert sorted(round(w, 6) for w in waits) == [round(0.1 * (i + 1), 6) for i in range(800)]


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
