"""Hypothesis state machine over returns mixed with plain refunds: never more refunded than received, never more
processed than returned, never more in live returns than fulfilled, and the return's refunds are the order's.
In-process (executor, no HTTP) to stay fast."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from sandboxes.shopify.model import gid

CREATE = """
mutation($input: ReturnInput!) { returnCreate(returnInput: $input) { return { id } userErrors { code } } }
"""
REQUEST = """
mutation($input: ReturnRequestInput!) { returnRequest(input: $input) { return { id } userErrors { code } } }
"""
PROCESS = """
mutation($input: ReturnProcessInput!) { returnProcess(input: $input) { return { id } userErrors { code } } }
"""
REFUND = """
mutation($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) { refund { id } userErrors { message } }
}
"""
SIMPLE = {
    "approve": "mutation($id: ID!) { returnApproveRequest(input: { id: $id }) { userErrors { code } } }",
    "decline": (
        "mutation($id: ID!) { returnDeclineRequest(input: { id: $id, declineReason: OTHER }) { userErrors { code } } }"
    ),
    "close": "mutation($id: ID!) { returnClose(id: $id) { userErrors { code } } }",
    "reopen": "mutation($id: ID!) { returnReopen(id: $id) { userErrors { code } } }",
    "cancel": "mutation($id: ID!) { returnCancel(id: $id) { userErrors { code } } }",
}


class ReturnsMachine(RuleBasedStateMachine):
    @initialize()
    def shop(self) -> None:
        self.sandbox = ShopifySandbox(
            SandboxConfig(seed=5, orders=0, restore_rate=1e9, bucket_size=1e9, job_delay_seconds=0)
        )
        self.order_id = self.sandbox.control.create_order(status="fulfilled", line_items=3)
        self.keys = 0

    def _run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.sandbox.executor.run(query, variables).body
        assert "errors" not in body, body
        return body

    def _order(self) -> Any:
        order = self.sandbox.state.get_by_id(int(self.order_id.rsplit("/", 1)[1]))
        assert order is not None
        return order

    def _return_gid(self, which: int) -> str | None:
        returns = self._order().returns
        return gid("Return", returns[which % len(returns)].id) if returns else None

    @rule(line=st.integers(0, 2), quantity=st.integers(0, 3), requested=st.booleans())
    def open_return(self, line: int, quantity: int, requested: bool) -> None:
        fulfillment_lines = [x for f in self._order().fulfillments for x in f.lines]
        fli = fulfillment_lines[line % len(fulfillment_lines)]
        entry = {"fulfillmentLineItemId": gid("FulfillmentLineItem", fli[0]), "quantity": quantity}
        payload = {"orderId": self.order_id, "returnLineItems": [entry]}
        self._run(REQUEST if requested else CREATE, {"input": payload})

    @rule(which=st.integers(0, 5), action=st.sampled_from(sorted(SIMPLE)))
    def move(self, which: int, action: str) -> None:
        return_id = self._return_gid(which)
        if return_id is not None:
            self._run(SIMPLE[action], {"id": return_id})

    @rule(which=st.integers(0, 5), quantity=st.integers(0, 3), cents=st.integers(0, 30_000), shipping=st.booleans())
    def process(self, which: int, quantity: int, cents: int, shipping: bool) -> None:
        return_id = self._return_gid(which)
        if return_id is None:
            return
        order = self._order()
        found = order.returns[which % len(order.returns)]
        parent = next(t for t in order.transactions if t.kind in ("SALE", "CAPTURE"))
        transfer = {
            "issueRefund": {
                "orderTransactions": [
                    {
                        "parentId": gid("OrderTransaction", parent.id),
                        "transactionAmount": {"amount": str(Decimal(cents) / 100), "currencyCode": order.currency},
                    }
                ]
            }
        }
        payload: dict[str, Any] = {
            "returnId": return_id,
            "returnLineItems": [{"id": gid("ReturnLineItem", found.lines[0].id), "quantity": quantity}],
            "refundShipping": {"fullRefund": shipping},
        }
        if cents:
            payload["financialTransfer"] = transfer
        errors = self._run(PROCESS, {"input": payload})["data"]["returnProcess"]["userErrors"]
        event(f"returnProcess: {errors[0]['code'] if errors else 'applied'}")

    @rule(cents=st.integers(1, 30_000))
    def plain_refund(self, cents: int) -> None:
        order = self._order()
        parent = next(t for t in order.transactions if t.kind in ("SALE", "CAPTURE"))
        self.keys += 1
        transaction = {
            "parentId": gid("OrderTransaction", parent.id),
            "amount": str(Decimal(cents) / 100),
            "kind": "REFUND",
            "gateway": parent.gateway,
            "orderId": self.order_id,
        }
        variables = {"input": {"orderId": self.order_id, "transactions": [transaction]}, "key": f"k{self.keys}"}
        self._run(REFUND, variables)

    @invariant()
    def money_and_quantities_hold(self) -> None:
        if not hasattr(self, "order_id"):
            return
        snapshot = self.sandbox.control.snapshot(self.order_id)
        assert Decimal(snapshot["total_refunded"]) <= Decimal(snapshot["total_received"])
        order = self._order()
        for fulfillment in order.fulfillments:
            for fli, _, quantity in fulfillment.lines:
                live = sum(
                    line.quantity
                    for r in order.returns
                    if r.status in ("REQUESTED", "OPEN", "CLOSED")
                    for line in r.lines
                    if line.fulfillment_line_item_id == fli
                )
                assert live <= quantity
        for found in order.returns:
            for line in found.lines:
                assert 0 <= line.refunded_quantity <= line.processed_quantity <= line.quantity
                if found.status in ("REQUESTED", "DECLINED"):
                    assert line.processed_quantity == 0
        for item in order.line_items:
            assert 0 <= snapshot_line(snapshot, item.id)["current_quantity"] <= item.quantity
        known = {r.id for r in order.returns}
        assert all(refund.return_id in known for refund in order.refunds if refund.return_id is not None)


def snapshot_line(snapshot: dict[str, Any], line_item_id: int) -> dict[str, Any]:
    line: dict[str, Any] = next(x for x in snapshot["line_items"] if x["id"] == gid("LineItem", line_item_id))
    return line


ReturnsMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestReturnsMachine = ReturnsMachine.TestCase
