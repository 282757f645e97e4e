"""Cost-based throttling: requested vs actual cost, THROTTLED under a burst, recovery at the restore rate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import gql

PAGE = "{ orders(first: 50) { edges { node { id } } } }"


class BucketClock:
    """The sandbox bucket's monotonic clock: it moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> BucketClock:
    return BucketClock()


def _serve(config: SandboxConfig, clock: BucketClock) -> Iterator[ShopifySandbox]:
    sandbox = ShopifySandbox(config, bucket_clock=clock)
    with sandbox.serve():
        yield sandbox
    sandbox.close()


@pytest.fixture
def small_bucket(clock: BucketClock) -> Iterator[ShopifySandbox]:
    yield from _serve(SandboxConfig(seed=2, orders=60, restore_rate=50, bucket_size=100), clock)


@pytest.fixture
def standard_bucket(clock: BucketClock) -> Iterator[ShopifySandbox]:
    yield from _serve(SandboxConfig(seed=2, orders=60), clock)


def test_every_response_carries_the_cost(standard_bucket: ShopifySandbox) -> None:
    cost = gql(standard_bucket, PAGE)["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 52
    assert cost["actualQueryCost"] == 52
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0
    assert status["restoreRate"] == 100.0
    assert status["currentlyAvailable"] == 2000 - 52  # no time passed on the bucket's clock


def test_actual_cost_counts_returned_nodes_and_refunds_the_rest(shopify_sandbox: ShopifySandbox) -> None:
    body = gql(
        shopify_sandbox,
        '{ orders(first: 100, query: "name:#1001") { nodes { id lineItems(first: 5) { nodes { id } } } } }',
    )
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 100 * (1 + 2 + 5)
    assert cost["actualQueryCost"] < 20
    assert cost["throttleStatus"]["currentlyAvailable"] >= 2000 - 20


def test_single_query_over_1000_is_refused(shopify_sandbox: ShopifySandbox) -> None:
    body = gql(shopify_sandbox, "{ orders(first: 250) { edges { node { lineItems(first: 250) { nodes { id } } } } } }")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["maxCost"] == 1000
    assert "data" not in body


def test_burst_is_throttled_then_recovers_at_the_restore_rate(small_bucket: ShopifySandbox, clock: BucketClock) -> None:
    big = "{ orders(first: 80) { edges { node { id } } } }"  # requests 82 of the 100-point bucket
    assert "errors" not in gql(small_bucket, big)
    throttled = gql(small_bucket, big)
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in throttled
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 82
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    available = throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    assert available < 82
    clock.advance((82 - available) / 50 - 0.1)  # not yet: still short of the requested cost
    assert gql(small_bucket, big)["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.advance(0.2)
    assert "errors" not in gql(small_bucket, big)


def test_bucket_refills_at_restore_rate(small_bucket: ShopifySandbox, clock: BucketClock) -> None:
    small_bucket.control.drain_bucket()
    clock.advance(1.0)
    assert small_bucket.control.bucket()["currentlyAvailable"] == 50  # 50 points/second
    clock.advance(0.5)
    assert small_bucket.control.bucket()["currentlyAvailable"] == 75
    clock.advance(1.5)
    assert small_bucket.control.bucket()["currentlyAvailable"] == 100, "capped at the bucket size"


def test_plans_set_the_restore_rate() -> None:
    for plan, rate in (("standard", 100), ("advanced", 200), ("plus", 1000), ("enterprise", 2000)):
        sandbox = ShopifySandbox(SandboxConfig(plan=plan, orders=1))
        assert sandbox.bucket.status()["restoreRate"] == rate
        assert sandbox.bucket.status()["maximumAvailable"] == rate * 20
