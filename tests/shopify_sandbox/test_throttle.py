"""Cost-based throttling: requested vs actual cost, THROTTLED under a burst, recovery at the restore rate."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from integrations.shopify.sandbox import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import gql

PAGE = "{ orders(first: 50) { edges { node { id } } } }"


@pytest.fixture
def small_bucket() -> Iterator[ShopifySandbox]:
    sandbox = ShopifySandbox(SandboxConfig(seed=2, orders=60, restore_rate=50, bucket_size=100))
    with sandbox.serve():
        yield sandbox
    sandbox.close()


def test_every_response_carries_the_cost(shopify_sandbox: ShopifySandbox) -> None:
    started = time.monotonic()
    cost = gql(shopify_sandbox, PAGE)["extensions"]["cost"]
    elapsed = time.monotonic() - started
    assert cost["requestedQueryCost"] == 52
    assert cost["actualQueryCost"] == 52
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0
    assert status["restoreRate"] == 100.0
    # The bucket refills at 100 points/s while the request is served (slow on a loaded machine).
    assert status["currentlyAvailable"] <= 2000 - 52 + 100 * elapsed + 1


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


def test_burst_is_throttled_then_recovers_at_the_restore_rate(small_bucket: ShopifySandbox) -> None:
    big = "{ orders(first: 80) { edges { node { id } } } }"  # requests 82 of the 100-point bucket
    assert "errors" not in gql(small_bucket, big)
    throttled = gql(small_bucket, big)
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in throttled
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 82
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    available = throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    assert available < 82
    time.sleep((82 - available) / 50 + 0.2)
    assert "errors" not in gql(small_bucket, big)


def test_bucket_refills_at_restore_rate(small_bucket: ShopifySandbox) -> None:
    small_bucket.control.drain_bucket()
    drained = time.monotonic()
    time.sleep(1.0)
    level = small_bucket.control.bucket()["currentlyAvailable"]
    elapsed = time.monotonic() - drained
    assert 50 * elapsed - 6 <= level <= 50 * elapsed + 1, (level, elapsed)  # 50 points/second
    time.sleep(1.5)
    assert small_bucket.control.bucket()["currentlyAvailable"] == 100, "capped at the bucket size"


def test_plans_set_the_restore_rate() -> None:
    for plan, rate in (("standard", 100), ("advanced", 200), ("plus", 1000), ("enterprise", 2000)):
        sandbox = ShopifySandbox(SandboxConfig(plan=plan, orders=1))
        assert sandbox.bucket.status()["restoreRate"] == rate
        assert sandbox.bucket.status()["maximumAvailable"] == rate * 20
