"""Fault switches do what they say: 5xx, latency, timeouts, dropped responses, webhook duplicates/order/drops."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import Receiver, eventually, post

REFUND = """
mutation($input: RefundInput!) {
  refundCreate(input: $input) @idempotent(key: "fault-1") { refund { id } userErrors { field message } }
}
"""


def _refund_lines_only(sandbox: ShopifySandbox) -> dict[str, Any]:
    order = sandbox.control.create_order(status="fulfilled", line_items=2)
    line = sandbox.control.snapshot(order)["line_items"][0]["id"]
    return {
        "input": {
            "orderId": order,
            "refundLineItems": [{"lineItemId": line, "quantity": 1, "restockType": "NO_RESTOCK"}],
        }
    }


def test_error_rate_answers_5xx_and_runs_nothing(shopify_sandbox: ShopifySandbox) -> None:
    variables = _refund_lines_only(shopify_sandbox)
    shopify_sandbox.control.set_faults(error_rate=1.0)
    response = post(shopify_sandbox, REFUND, variables)
    assert response.status_code in (502, 503)
    order = variables["input"]["orderId"]
    assert shopify_sandbox.control.mutation_counts(order) == {}
    shopify_sandbox.control.set_faults(error_rate=0.0)
    assert post(shopify_sandbox, REFUND, variables).status_code == 200
    assert shopify_sandbox.control.faults()["counts"]["errors"] == 1


def test_error_rate_is_a_seeded_share() -> None:
    outcomes = []
    for _ in range(2):
        sandbox = ShopifySandbox(SandboxConfig(seed=5, orders=5))
        sandbox.control.set_faults(error_rate=0.3)
        outcomes.append([sandbox.faults.roll(0.3) for _ in range(200)])
    assert outcomes[0] == outcomes[1], "same seed, same faults"
    assert 30 <= sum(outcomes[0]) <= 90


def test_latency_is_added(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.control.set_faults(latency_seconds=0.4)
    started = time.perf_counter()
    assert post(shopify_sandbox, "{ orders(first: 1) { nodes { id } } }").status_code == 200
    assert time.perf_counter() - started >= 0.4


def test_timeout_leaves_the_outcome_unknown_and_applies_later(shopify_sandbox: ShopifySandbox) -> None:
    variables = _refund_lines_only(shopify_sandbox)
    order = variables["input"]["orderId"]
    shopify_sandbox.control.set_faults(timeout_rate=1.0, timeout_seconds=0.8)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            shopify_sandbox.graphql_url(),
            json={"query": REFUND, "variables": variables},
            headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token},
            timeout=0.3,
        )
    assert shopify_sandbox.control.applied_counts(order) == {}
    applied = eventually(lambda: shopify_sandbox.control.applied_counts(order))
    assert applied == {"refundCreate": 1}, "the server ran it after all"
    shopify_sandbox.control.clear_faults()
    retry = post(shopify_sandbox, REFUND, variables).json()["data"]["refundCreate"]
    assert retry["refund"]["id"]
    assert shopify_sandbox.control.snapshot(order)["refund_count"] == 1, "the retry with the same key replays"


def test_drop_response_applies_the_mutation_then_cuts_the_connection(shopify_sandbox: ShopifySandbox) -> None:
    variables = _refund_lines_only(shopify_sandbox)
    order = variables["input"]["orderId"]
    shopify_sandbox.control.set_faults(drop_response_rate=1.0)
    with pytest.raises(httpx.TransportError):
        post(shopify_sandbox, REFUND, variables)
    assert shopify_sandbox.control.applied_counts(order) == {"refundCreate": 1}
    assert shopify_sandbox.control.snapshot(order)["refund_count"] == 1


def test_webhook_duplicates_keep_the_delivery_id(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.control.set_faults(webhook_duplicate_rate=1.0)
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("orders/updated", receiver.url)
        shopify_sandbox.control.touch_order("#1001")
        shopify_sandbox.control.touch_order("#1002")
        deliveries = receiver.wait_for(4)
    ids = [d["headers"]["X-Shopify-Webhook-Id"] for d in deliveries]
    assert len(ids) == 4
    assert len(set(ids)) == 2
    assert all(ids.count(value) == 2 for value in ids)


def test_webhook_drops(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.control.set_faults(webhook_drop_rate=1.0)
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("orders/updated", receiver.url)
        for number in range(1001, 1006):
            shopify_sandbox.control.touch_order(f"#{number}")
        assert shopify_sandbox.control.wait_for_webhooks(5)
        time.sleep(0.2)
    assert receiver.deliveries == []
    assert [a["outcome"] for a in shopify_sandbox.control.deliveries()] == ["dropped"] * 5


def test_webhooks_out_of_order(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.control.set_faults(webhook_out_of_order=True, webhook_reorder_window_seconds=0.5)
    names = [f"#{1001 + i}" for i in range(12)]
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("orders/updated", receiver.url)
        for name in names:
            shopify_sandbox.control.touch_order(name)
        deliveries = receiver.wait_for(12)
    arrived = [json.loads(d["body"])["name"] for d in deliveries]
    assert sorted(arrived) == sorted(names)
    assert arrived != names


def test_bad_fault_values_are_refused(shopify_sandbox: ShopifySandbox) -> None:
    with pytest.raises(ValueError, match="error_rate"):
        shopify_sandbox.control.set_faults(error_rate=2)
    with pytest.raises(ValueError, match="unknown fault"):
        shopify_sandbox.control.set_faults(chaos=1)


def test_one_shot_drop_hits_only_the_named_mutation(shopify_sandbox: ShopifySandbox) -> None:
    variables = _refund_lines_only(shopify_sandbox)
    order = variables["input"]["orderId"]
    shopify_sandbox.control.fail_next("drop", field="refundCreate")
    assert post(shopify_sandbox, "{ orders(first: 1) { nodes { id } } }").status_code == 200, "reads unaffected"
    with pytest.raises(httpx.TransportError):
        post(shopify_sandbox, REFUND, variables)
    assert shopify_sandbox.control.applied_counts(order) == {"refundCreate": 1}
    replay = post(shopify_sandbox, REFUND, variables)
    assert replay.status_code == 200, "one shot only"
    assert shopify_sandbox.control.snapshot(order)["refund_count"] == 1
    assert shopify_sandbox.control.faults()["one_shots"] == []


def test_one_shot_error_and_rates_limited_to_fields(shopify_sandbox: ShopifySandbox) -> None:
    base = f"{shopify_sandbox.base_url}/_sandbox"
    assert (
        httpx.post(f"{base}/faults/next", json={"kind": "error", "field": "orderCancel", "times": 2}).status_code == 200
    )
    cancel = "mutation($id: ID!) { orderCancel(orderId: $id, reason: OTHER, restock: true) { job { id } } }"
    target = shopify_sandbox.control.create_order(status="paid")
    assert post(shopify_sandbox, cancel, {"id": target}).status_code in (502, 503)
    assert post(shopify_sandbox, cancel, {"id": target}).status_code in (502, 503)
    assert shopify_sandbox.control.mutation_counts(target) == {}
    shopify_sandbox.control.set_faults(error_rate=1.0, only_fields=["refundCreate"])
    assert post(shopify_sandbox, "{ orders(first: 1) { nodes { id } } }").status_code == 200
    assert post(shopify_sandbox, REFUND, _refund_lines_only(shopify_sandbox)).status_code in (502, 503)
    assert httpx.post(f"{base}/faults/next", json={"kind": "explode"}).status_code == 400
