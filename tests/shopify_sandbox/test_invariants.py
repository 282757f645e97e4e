"""Hypothesis state machine over refunds, cancels and fulfillment: money never goes negative, a key applies
at most once, statuses agree with the transactions. Runs in-process (executor, no HTTP) to stay fast."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sandboxes.shopify import SandboxConfig, ShopifySandbox

REFUND = """
mutation($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) { refund { id } userErrors { field message } }
}
"""
CANCEL = "mutation($id: ID!) { orderCancel(orderId: $id, reason: OTHER, restock: true, refund: true) { job { id } } }"


class ShopMachine(RuleBasedStateMachine):
    @initialize()
    def shop(self) -> None:
        self.sandbox = ShopifySandbox(
            SandboxConfig(seed=3, orders=0, restore_rate=1e9, bucket_size=1e9, job_delay_seconds=0)
        )
        control = self.sandbox.control
        self.orders = [control.create_order(status=s) for s in ("paid", "fulfilled", "accepted", "authorized")]
        self.applied_keys: dict[str, str] = {}  # key -> order it applied to
        self.inputs: dict[str, dict[str, Any]] = {}

    def _run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.sandbox.executor.run(query, variables).body
        return body

    @rule(which=st.integers(0, 3), key=st.sampled_from(["a", "b", "c", "d"]), cents=st.integers(0, 40_000),
          quantity=st.integers(0, 3), restock=st.sampled_from(["RETURN", "NO_RESTOCK", "CANCEL"]))  # fmt: skip
    def refund(self, which: int, key: str, cents: int, quantity: int, restock: str) -> None:
        order_id = self.orders[which]
        snap = self.sandbox.control.snapshot(order_id)
        parent = next((t["id"] for t in snap["transactions"] if t["kind"] in ("SALE", "CAPTURE")), None)
        refund: dict[str, Any] = {"orderId": order_id, "transactions": []}
        if quantity:
            refund["refundLineItems"] = [
                {"lineItemId": snap["line_items"][0]["id"], "quantity": quantity, "restockType": restock}
            ]
        if parent and cents:
            amount = str(Decimal(cents) / 100)
            refund["transactions"] = [
                {
                    "orderId": order_id,
                    "parentId": parent,
                    "gateway": "shopify_payments",
                    "kind": "REFUND",
                    "amount": amount,
                }
            ]
        before = snap["refund_count"]
        body = self._run(REFUND, {"input": refund, "key": key})
        after = self.sandbox.control.snapshot(order_id)["refund_count"]
        if key in self.inputs and self.inputs[key] != refund:
            assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
            assert after == before
            return
        result = body["data"]["refundCreate"]
        if key in self.inputs:
            assert after == before, "a repeated key never applies again"
        elif not result["userErrors"]:
            assert after == before + 1
            self.applied_keys[key] = order_id
            event("refund applied")
        self.inputs.setdefault(key, refund)

    @rule(which=st.integers(0, 3))
    def cancel(self, which: int) -> None:
        self._run(CANCEL, {"id": self.orders[which]})

    @rule(which=st.integers(0, 3))
    def ship(self, which: int) -> None:
        with contextlib.suppress(ValueError):  # nothing open to ship or not accepted: refused, nothing changed
            self.sandbox.control.fulfillment(self.orders[which], "fulfill")

    @invariant()
    def money_is_consistent(self) -> None:
        for order_id in getattr(self, "orders", []):
            snap = self.sandbox.control.snapshot(order_id)
            received, refunded = Decimal(snap["total_received"]), Decimal(snap["total_refunded"])
            assert Decimal(0) <= refunded <= received
            assert Decimal(snap["total_outstanding"]) >= 0
            if received and refunded == received:
                assert snap["financial_status"] == "REFUNDED"
            elif refunded:
                assert snap["financial_status"] == "PARTIALLY_REFUNDED"
            for line in snap["line_items"]:
                assert 0 <= line["refunded_quantity"] <= line["quantity"]
            if snap["cancelled_at"]:
                assert (
                    not any(f["status"] == "SUCCESS" for f in snap["fulfillments"])
                    or snap["fulfillment_status"] != "UNFULFILLED"
                )

    def teardown(self) -> None:
        if hasattr(self, "sandbox"):
            self.sandbox.close()


ShopMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestShopMachine = ShopMachine.TestCase


def test_seeded_orders_are_internally_consistent() -> None:
    sandbox = ShopifySandbox(SandboxConfig(seed=11, orders=400))
    statuses = set()
    for number in range(1001, 1401):
        snap = sandbox.control.snapshot(f"#{number}")
        received, refunded = Decimal(snap["total_received"]), Decimal(snap["total_refunded"])
        assert Decimal(0) <= refunded <= received, number
        assert Decimal(snap["total_outstanding"]) >= 0, number
        parts = Decimal(snap["subtotal_price"]) + Decimal(snap["total_tax"]) + Decimal(snap["total_shipping"])
        assert parts == Decimal(snap["total_price"]), number
        assert snap["created_at"] < snap["updated_at"], number
        for transaction in snap["transactions"]:
            if transaction["parent_id"]:
                assert transaction["parent_id"] in {t["id"] for t in snap["transactions"]}, number
        if snap["fulfillment_status"] == "FULFILLED":
            assert snap["fulfillments"][0]["tracking_number"], number
        statuses.add((snap["financial_status"], snap["fulfillment_status"], bool(snap["cancelled_at"])))
    assert len(statuses) >= 8, statuses
    sandbox.close()
