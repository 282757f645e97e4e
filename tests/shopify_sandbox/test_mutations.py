"""orderCancel, refundCreate (idempotency, over-refunds), suggestedRefund, fulfillment order transitions."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.shopify.schema import validate_document
from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import data, eventually, gql

CANCEL = """
mutation Cancel($id: ID!, $refund: Boolean!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: true, notifyCustomer: false, staffNote: "supplier cancelled",
              refundMethod: { originalPaymentMethodsRefund: $refund }) {
    job { id done }
    jobResult { id done status }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}
"""
REFUND = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund {
      id totalRefundedSet { shopMoney { amount currencyCode } }
      transactions(first: 5) { nodes { kind parentTransaction { id } } }
    }
    order { id displayFinancialStatus totalRefundedSet { shopMoney { amount } } }
    userErrors { field message }
  }
}
"""
ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id cancelledAt cancelReason displayFinancialStatus displayFulfillmentStatus
    totalRefundedSet { shopMoney { amount } } netPaymentSet { shopMoney { amount } }
    lineItems(first: 10) { nodes { id quantity refundableQuantity unfulfilledQuantity } }
    transactions { id kind status parentTransaction { id } amountSet { shopMoney { amount } } }
    fulfillmentOrders(first: 5) { nodes { id status requestStatus } }
  }
}
"""


def _find(sandbox: ShopifySandbox, **wanted: str) -> dict[str, Any]:
    for index in range(50):
        snap = sandbox.control.snapshot(f"#{1001 + index}")
        fo = snap["fulfillment_orders"][0]
        facts = {
            "financial": snap["financial_status"],
            "fulfillment": snap["fulfillment_status"],
            "request": fo["request_status"],
        }
        if not snap["cancelled_at"] and all(facts[key] == value for key, value in wanted.items()):
            return snap
    raise AssertionError(f"no seeded order with {wanted}")


def _order(sandbox: ShopifySandbox, order_id: str) -> dict[str, Any]:
    result: dict[str, Any] = data(sandbox, ORDER, {"id": order_id})["order"]
    return result


def test_documents_validate_against_shopify() -> None:
    for document in (CANCEL, REFUND, ORDER):
        assert validate_document(document) == []


def test_cancel_unfulfilled_paid_order_refunds_and_finishes_job(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, financial="PAID", request="UNSUBMITTED")
    result = data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]
    assert result["orderCancelUserErrors"] == []
    job = data(shopify_sandbox, "query($id: ID!) { job(id: $id) { id done } }", {"id": result["job"]["id"]})["job"]
    assert job["done"] is True
    order = _order(shopify_sandbox, target["id"])
    assert order["cancelledAt"]
    assert order["cancelReason"] == "CUSTOMER"
    assert order["displayFinancialStatus"] == "REFUNDED"
    assert order["netPaymentSet"]["shopMoney"]["amount"] == "0.00"
    assert shopify_sandbox.control.applied_counts(target["id"]) == {"orderCancel": 1}


def test_cancel_is_asynchronous_when_the_job_takes_time(shopify_sandbox: ShopifySandbox) -> None:

    shopify_sandbox.config.job_delay_seconds = 0.3
    target = _find(shopify_sandbox, financial="PAID", request="UNSUBMITTED")
    result = data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": False})["orderCancel"]
    assert result["job"]["done"] is False
    assert _order(shopify_sandbox, target["id"])["cancelledAt"] is None
    job = "query($id: ID!) { job(id: $id) { done } }"
    assert eventually(lambda: data(shopify_sandbox, job, {"id": result["job"]["id"]})["job"]["done"])
    order = _order(shopify_sandbox, target["id"])
    assert order["cancelledAt"] is not None
    assert order["displayFinancialStatus"] == "PAID", "no refundMethod: nothing refunded"


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ({"fulfillment": "FULFILLED"}, "fulfillments"),
        ({"request": "SUBMITTED"}, "SUBMITTED"),
        ({"request": "ACCEPTED", "fulfillment": "IN_PROGRESS"}, "ACCEPTED"),
        ({"financial": "PENDING"}, "pending"),
    ],
)
def test_cancel_refusals_carry_a_code(shopify_sandbox: ShopifySandbox, wanted: dict[str, str], message: str) -> None:
    target = _find(shopify_sandbox, **wanted)
    result = data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]
    assert result["job"] is None
    error = result["orderCancelUserErrors"][0]
    assert error["code"] == "INVALID"
    assert message in error["message"]
    assert _order(shopify_sandbox, target["id"])["cancelledAt"] is None
    assert shopify_sandbox.control.mutation_counts(target["id"]) == {"orderCancel": 1}
    assert shopify_sandbox.control.applied_counts(target["id"]) == {}


def test_cancel_twice_and_unknown_order(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, financial="AUTHORIZED")
    assert (
        data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]["orderCancelUserErrors"]
        == []
    )
    assert _order(shopify_sandbox, target["id"])["displayFinancialStatus"] == "VOIDED"
    again = data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]
    assert "already been cancelled" in again["orderCancelUserErrors"][0]["message"]
    missing = data(shopify_sandbox, CANCEL, {"id": "gid://shopify/Order/42", "refund": True})["orderCancel"]
    assert missing["orderCancelUserErrors"][0]["code"] == "NOT_FOUND"


def _refund_input(sandbox: ShopifySandbox, order_id: str, amount: str) -> dict[str, Any]:
    order = _order(sandbox, order_id)
    parent = next(t for t in order["transactions"] if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS")
    item = order["lineItems"]["nodes"][0]
    return {
        "orderId": order_id,
        "note": "damaged",
        "refundLineItems": [{"lineItemId": item["id"], "quantity": 1, "restockType": "RETURN"}],
        "transactions": [
            {
                "orderId": order_id,
                "parentId": parent["id"],
                "gateway": "shopify_payments",
                "kind": "REFUND",
                "amount": amount,
            }
        ],
    }


def test_refund_requires_idempotency_key(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, fulfillment="FULFILLED", financial="PAID")
    no_key = REFUND.replace(", $key: String!", "").replace(" @idempotent(key: $key)", "")
    body = gql(shopify_sandbox, no_key, {"input": _refund_input(shopify_sandbox, target["id"], "5.00")})
    assert body["data"]["refundCreate"] is None
    assert "@idempotent" in body["errors"][0]["message"]
    assert _order(shopify_sandbox, target["id"])["totalRefundedSet"]["shopMoney"]["amount"] == "0.00"


def test_repeated_key_is_not_applied_twice(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, fulfillment="FULFILLED", financial="PAID")
    refund = _refund_input(shopify_sandbox, target["id"], "5.00")
    first = data(shopify_sandbox, REFUND, {"input": refund, "key": "intent-1"})["refundCreate"]
    second = data(shopify_sandbox, REFUND, {"input": refund, "key": "intent-1"})["refundCreate"]
    assert first["userErrors"] == []
    assert second["refund"]["id"] == first["refund"]["id"]
    assert second["order"]["totalRefundedSet"]["shopMoney"]["amount"] == "5.00"
    assert second["order"]["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert first["refund"]["transactions"]["nodes"][0]["kind"] == "REFUND"
    assert shopify_sandbox.control.applied_counts(target["id"]) == {"refundCreate": 1}
    assert shopify_sandbox.control.mutation_counts(target["id"]) == {"refundCreate": 2}
    other = gql(shopify_sandbox, REFUND, {"input": {**refund, "note": "other"}, "key": "intent-1"})
    assert other["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    fresh = data(shopify_sandbox, REFUND, {"input": refund, "key": "intent-2"})["refundCreate"]
    assert fresh["order"]["totalRefundedSet"]["shopMoney"]["amount"] == "10.00"


def test_over_refund_is_refused(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, fulfillment="FULFILLED", financial="PAID")
    too_much = data(
        shopify_sandbox, REFUND, {"input": _refund_input(shopify_sandbox, target["id"], "100000.00"), "key": "k"}
    )
    errors = too_much["refundCreate"]["userErrors"]
    assert errors
    assert errors[0]["field"][:2] == ["transactions", "0"]
    order = _order(shopify_sandbox, target["id"])
    item = order["lineItems"]["nodes"][0]
    lines = {"orderId": target["id"], "refundLineItems": [{"lineItemId": item["id"], "quantity": item["quantity"] + 1}]}
    assert data(shopify_sandbox, REFUND, {"input": lines, "key": "k2"})["refundCreate"]["userErrors"]
    cancel_shipped = {
        "orderId": target["id"],
        "refundLineItems": [{"lineItemId": item["id"], "quantity": 1, "restockType": "CANCEL"}],
    }
    assert (
        "CANCEL"
        in data(shopify_sandbox, REFUND, {"input": cancel_shipped, "key": "k3"})["refundCreate"]["userErrors"][0][
            "message"
        ]
    )
    assert _order(shopify_sandbox, target["id"])["totalRefundedSet"]["shopMoney"]["amount"] == "0.00"


def test_suggested_refund_then_full_refund(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, fulfillment="FULFILLED", financial="PAID")
    suggestion = data(
        shopify_sandbox,
        """query($id: ID!) { order(id: $id) { totalReceivedSet { shopMoney { amount } }
          suggestedRefund(suggestFullRefund: true) {
            amountSet { shopMoney { amount } } maximumRefundableSet { shopMoney { amount } }
            refundLineItems { quantity restockType lineItem { id } }
            suggestedTransactions { kind gateway amountSet { shopMoney { amount } } parentTransaction { id } } } } }""",
        {"id": target["id"]},
    )["order"]
    plan = suggestion["suggestedRefund"]
    assert plan["amountSet"]["shopMoney"]["amount"] == suggestion["totalReceivedSet"]["shopMoney"]["amount"]
    refund = {
        "orderId": target["id"],
        "refundLineItems": [
            {"lineItemId": x["lineItem"]["id"], "quantity": x["quantity"], "restockType": "NO_RESTOCK"}
            for x in plan["refundLineItems"]
        ],
        "shipping": {"fullRefund": True},
        "transactions": [
            {
                "orderId": target["id"],
                "parentId": t["parentTransaction"]["id"],
                "gateway": t["gateway"],
                "kind": "REFUND",
                "amount": t["amountSet"]["shopMoney"]["amount"],
            }
            for t in plan["suggestedTransactions"]
        ],
    }
    result = data(shopify_sandbox, REFUND, {"input": refund, "key": "full"})["refundCreate"]
    assert result["userErrors"] == []
    assert result["order"]["displayFinancialStatus"] == "REFUNDED"
    again = data(shopify_sandbox, REFUND, {"input": {**refund, "note": "again"}, "key": "full-2"})["refundCreate"]
    assert again["userErrors"], "nothing left to refund"


def test_empty_transactions_move_no_money(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, fulfillment="FULFILLED", financial="PAID")
    item = _order(shopify_sandbox, target["id"])["lineItems"]["nodes"][0]
    refund = {
        "orderId": target["id"],
        "refundLineItems": [{"lineItemId": item["id"], "quantity": 1, "restockType": "RETURN"}],
        "transactions": [],
    }
    result = data(shopify_sandbox, REFUND, {"input": refund, "key": "lines-only"})["refundCreate"]
    assert result["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "0.00"
    assert result["order"]["displayFinancialStatus"] == "PAID"


FO_FIELDS = "fulfillmentOrder { id status requestStatus } userErrors { field message }"
FO_MUTATIONS = {
    "cancel": "mutation($id: ID!) { fulfillmentOrderCancel(id: $id) { "
    + FO_FIELDS
    + " replacementFulfillmentOrder { id status requestStatus } } }",
    "request": 'mutation($id: ID!) { fulfillmentOrderSubmitCancellationRequest(id: $id, message: "changed mind") { '
    + FO_FIELDS
    + " } }",
    "accept": "mutation($id: ID!) { fulfillmentOrderAcceptCancellationRequest(id: $id) { " + FO_FIELDS + " } }",
    "reject": "mutation($id: ID!) { fulfillmentOrderRejectCancellationRequest(id: $id) { " + FO_FIELDS + " } }",
}


def test_fulfillment_order_cancel_when_submitted_then_order_cancel_works(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, request="SUBMITTED", financial="PAID")
    fo_id = target["fulfillment_orders"][0]["id"]
    result = data(shopify_sandbox, FO_MUTATIONS["cancel"], {"id": fo_id})["fulfillmentOrderCancel"]
    assert result["userErrors"] == []
    assert result["fulfillmentOrder"]["status"] == "CLOSED"
    assert result["replacementFulfillmentOrder"]["requestStatus"] == "UNSUBMITTED"
    assert (
        data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]["orderCancelUserErrors"]
        == []
    )


def test_accepted_needs_a_cancellation_request_and_the_service_answer(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, request="ACCEPTED", fulfillment="IN_PROGRESS")
    fo_id = target["fulfillment_orders"][0]["id"]
    refused = data(shopify_sandbox, FO_MUTATIONS["cancel"], {"id": fo_id})["fulfillmentOrderCancel"]
    assert "cancellation request" in refused["userErrors"][0]["message"]
    requested = data(shopify_sandbox, FO_MUTATIONS["request"], {"id": fo_id})[
        "fulfillmentOrderSubmitCancellationRequest"
    ]
    assert requested["fulfillmentOrder"]["requestStatus"] == "CANCELLATION_REQUESTED"
    assert data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]["orderCancelUserErrors"]
    accepted = data(shopify_sandbox, FO_MUTATIONS["accept"], {"id": fo_id})["fulfillmentOrderAcceptCancellationRequest"]
    assert accepted["fulfillmentOrder"]["requestStatus"] == "CANCELLATION_ACCEPTED"
    assert (
        data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]["orderCancelUserErrors"]
        == []
    )


def test_rejected_cancellation_request_then_the_service_ships(shopify_sandbox: ShopifySandbox) -> None:
    target = _find(shopify_sandbox, request="ACCEPTED", fulfillment="IN_PROGRESS")
    fo_id = target["fulfillment_orders"][0]["id"]
    data(shopify_sandbox, FO_MUTATIONS["request"], {"id": fo_id})
    rejected = data(shopify_sandbox, FO_MUTATIONS["reject"], {"id": fo_id})["fulfillmentOrderRejectCancellationRequest"]
    assert rejected["fulfillmentOrder"]["requestStatus"] == "CANCELLATION_REJECTED"
    snap = shopify_sandbox.control.fulfillment(target["id"], "fulfill", tracking_number="LP00999")
    assert snap["fulfillment_status"] == "FULFILLED"
    assert snap["fulfillments"][-1]["tracking_number"] == "LP00999"
    refused = data(shopify_sandbox, CANCEL, {"id": target["id"], "refund": True})["orderCancel"]
    assert refused["orderCancelUserErrors"][0]["code"] == "INVALID"


def test_control_drives_the_whole_fulfillment_flow(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    order_id = control.create_order(status="paid", line_items=3, aliexpress_order_id="8123456789012345")
    assert control.snapshot(order_id)["aliexpress_order_id"] == "8123456789012345"
    assert control.fulfillment(order_id, "submit")["fulfillment_orders"][0]["request_status"] == "SUBMITTED"
    assert control.fulfillment(order_id, "accept")["fulfillment_status"] == "IN_PROGRESS"
    done = control.fulfillment(order_id, "fulfill", tracking_company="Cainiao", tracking_number="LP0012345")
    assert done["fulfillment_status"] == "FULFILLED"
    assert done["fulfillment_orders"][0]["status"] == "CLOSED"
    with pytest.raises(ValueError, match="no open fulfillment order"):
        control.fulfillment(order_id, "fulfill")
    with pytest.raises(ValueError, match="no such order"):
        control.snapshot("#999999")
