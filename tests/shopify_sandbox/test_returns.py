"""The Returns API over real HTTP: request/approve/decline/create/process/close/cancel/reopen, refunds through
the order's transactions, over-processing and over-refunds refused, orderCancel blocked, control calls."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from integrations.shopify.schema import validate_document
from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import data

RETURN_FIELDS = """
fragment R on Return {
  id name status createdAt closedAt requestApprovedAt totalQuantity
  decline { reason note }
  order { id returnStatus displayFinancialStatus totalRefundedSet { shopMoney { amount } } }
  returnLineItems(first: 20) {
    nodes {
      id quantity processedQuantity processableQuantity unprocessedQuantity refundableQuantity refundedQuantity
      returnReason returnReasonNote customerNote returnReasonDefinition { handle name }
      ... on ReturnLineItem {
        fulfillmentLineItem { id quantity lineItem { id } }
        restockingFee { percentage amountSet { shopMoney { amount } } }
      }
    }
  }
  refunds(first: 10) {
    nodes {
      id note totalRefundedSet { shopMoney { amount } }
      transactions(first: 5) { nodes { kind parentTransaction { id } } }
    }
  }
  reverseFulfillmentOrders(first: 5) {
    nodes { id status lineItems(first: 10) { nodes { id totalQuantity dispositions { type quantity } } } }
  }
}
"""
REQUEST = (
    """
mutation($input: ReturnRequestInput!) {
  returnRequest(input: $input) { return { ...R } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)
CREATE = (
    """
mutation($input: ReturnInput!) {
  returnCreate(returnInput: $input) { return { ...R } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)
APPROVE = (
    """
mutation($id: ID!) {
  returnApproveRequest(input: { id: $id, notifyCustomer: false }) { return { ...R } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)
DECLINE = (
    """
mutation($id: ID!, $reason: ReturnDeclineReason!, $note: String) {
  returnDeclineRequest(input: { id: $id, declineReason: $reason, declineNote: $note }) {
    return { ...R } userErrors { field message code }
  }
}
"""
    + RETURN_FIELDS
)
PROCESS = (
    """
mutation($input: ReturnProcessInput!) {
  returnProcess(input: $input) { return { ...R } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)
CLOSE = """
mutation($id: ID!) { returnClose(id: $id) { return { id status closedAt } userErrors { field message code } } }
"""
REOPEN = """mutation($id: ID!) { returnReopen(id: $id) { return { id status } userErrors { field message code } } }"""
CANCEL_RETURN = """
mutation($id: ID!) {
  returnCancel(id: $id, notifyCustomer: false) { return { id status } userErrors { field message code } }
}
"""
READ = "query($id: ID!) { return(id: $id) { ...R } }" + RETURN_FIELDS
ORDER = """
query($id: ID!) {
  order(id: $id) {
    id returnStatus displayFinancialStatus
    totalReceivedSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
    netPaymentSet { shopMoney { amount } }
    transactions { id kind status amountSet { shopMoney { amount } presentmentMoney { amount currencyCode } } }
    lineItems(first: 20) { nodes { id quantity currentQuantity refundableQuantity } }
    fulfillments(first: 5) { id fulfillmentLineItems(first: 20) { nodes { id quantity lineItem { id } } } }
    refunds { id note return { id } totalRefundedSet { shopMoney { amount } } }
    returns(first: 10) { nodes { id name status } }
  }
}
"""
SUGGEST = """
query($id: ID!, $lines: [SuggestedOutcomeReturnLineItemInput!]!, $shipping: RefundShippingInput) {
  return(id: $id) {
    suggestedFinancialOutcome(returnLineItems: $lines, exchangeLineItems: [], refundShipping: $shipping) {
      discountedSubtotal { shopMoney { amount } }
      totalTax { shopMoney { amount } }
      maximumRefundable { shopMoney { amount } }
      shipping { amountSet { shopMoney { amount } } maximumRefundableSet { shopMoney { amount } } }
      financialTransfer {
        ... on RefundReturnOutcome {
          amount { shopMoney { amount } presentmentMoney { amount currencyCode } }
          suggestedTransactions {
            gateway parentTransaction { id } amountSet { presentmentMoney { amount currencyCode } }
          }
        }
      }
    }
  }
}
"""
ORDER_CANCEL = """
mutation($id: ID!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refundMethod: { originalPaymentMethodsRefund: true }) {
    job { id } orderCancelUserErrors { field message code }
  }
}
"""


def test_documents_validate_against_shopify() -> None:
    for document in (REQUEST, CREATE, APPROVE, DECLINE, PROCESS, CLOSE, REOPEN, CANCEL_RETURN, READ, ORDER, SUGGEST):
        assert validate_document(document) == [], document


def _fulfilled_order(sandbox: ShopifySandbox, lines: int = 3) -> tuple[str, dict[str, Any]]:
    order_id = sandbox.control.create_order(status="fulfilled", line_items=lines)
    return order_id, data(sandbox, ORDER, {"id": order_id})["order"]


def _fulfillment_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for f in order["fulfillments"] for node in f["fulfillmentLineItems"]["nodes"]]


def _refund_input(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "parentId": t["parentTransaction"]["id"],
            "transactionAmount": {
                "amount": t["amountSet"]["presentmentMoney"]["amount"],
                "currencyCode": t["amountSet"]["presentmentMoney"]["currencyCode"],
            },
        }
        for t in outcome["financialTransfer"]["suggestedTransactions"]
    ]


def _money(value: dict[str, Any]) -> Decimal:
    return Decimal(value["shopMoney"]["amount"])


def test_customer_request_approved_processed_refunds_that_line_once(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox)
    first = _fulfillment_lines(order)[0]
    requested = data(
        shopify_sandbox,
        REQUEST,
        {
            "input": {
                "orderId": order_id,
                "returnLineItems": [
                    {
                        "fulfillmentLineItemId": first["id"],
                        "quantity": 1,
                        "returnReason": "DEFECTIVE",
                        "customerNote": "arrived cracked",
                    }
                ],
            }
        },
    )["returnRequest"]
    assert requested["userErrors"] == []
    ret = requested["return"]
    assert ret["status"] == "REQUESTED"
    assert ret["name"].endswith("-R1")
    assert ret["totalQuantity"] == 1
    assert ret["order"]["returnStatus"] == "RETURN_REQUESTED"
    assert ret["reverseFulfillmentOrders"]["nodes"] == []
    line = ret["returnLineItems"]["nodes"][0]
    assert line["fulfillmentLineItem"]["lineItem"]["id"] == first["lineItem"]["id"]
    assert line["returnReasonDefinition"] == {"handle": "defective", "name": "Damaged or defective"}
    assert (line["processableQuantity"], line["customerNote"]) == (0, "arrived cracked")

    approved = data(shopify_sandbox, APPROVE, {"id": ret["id"]})["returnApproveRequest"]["return"]
    assert approved["status"] == "OPEN"
    assert approved["requestApprovedAt"]
    assert approved["reverseFulfillmentOrders"]["nodes"][0]["status"] == "OPEN"
    assert approved["returnLineItems"]["nodes"][0]["processableQuantity"] == 1

    outcome = data(shopify_sandbox, SUGGEST, {"id": ret["id"], "lines": [{"id": line["id"], "quantity": 1}]})["return"][
        "suggestedFinancialOutcome"
    ]
    amount = _money(outcome["financialTransfer"]["amount"])
    assert amount == _money(outcome["discountedSubtotal"]) + _money(outcome["totalTax"]) > 0
    process_input = {
        "returnId": ret["id"],
        "returnLineItems": [{"id": line["id"], "quantity": 1}],
        "financialTransfer": {"issueRefund": {"orderTransactions": _refund_input(outcome)}},
        "note": "[dropsync-test]",
        "notifyCustomer": False,
    }
    processed = data(shopify_sandbox, PROCESS, {"input": process_input})["returnProcess"]
    assert processed["userErrors"] == []
    done = processed["return"]
    item = done["returnLineItems"]["nodes"][0]
    assert (item["processedQuantity"], item["refundedQuantity"], item["processableQuantity"]) == (1, 1, 0)
    refund = done["refunds"]["nodes"][0]
    assert refund["note"] == "[dropsync-test]"
    assert _money(refund["totalRefundedSet"]) == amount
    assert refund["transactions"]["nodes"][0]["kind"] == "REFUND"

    # No idempotency key: the same call again is refused because nothing is left to process, and refunds nothing.
    again = data(shopify_sandbox, PROCESS, {"input": process_input})["returnProcess"]
    assert again["return"] is None
    assert again["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    assert again["userErrors"][0]["field"] == ["input", "returnLineItems", "0", "quantity"]

    after = data(shopify_sandbox, ORDER, {"id": order_id})["order"]
    assert after["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert _money(after["totalRefundedSet"]) == amount
    assert _money(after["netPaymentSet"]) == _money(after["totalReceivedSet"]) - amount
    assert [r["return"] for r in after["refunds"]] == [{"id": ret["id"]}]
    refunded_line = next(n for n in after["lineItems"]["nodes"] if n["id"] == first["lineItem"]["id"])
    assert refunded_line["currentQuantity"] == refunded_line["quantity"] - 1
    assert sum(1 for t in after["transactions"] if t["kind"] == "REFUND") == 1

    closed = data(shopify_sandbox, CLOSE, {"id": ret["id"]})["returnClose"]
    assert closed["return"]["status"] == "CLOSED"
    assert closed["return"]["closedAt"]
    assert data(shopify_sandbox, CLOSE, {"id": ret["id"]})["returnClose"]["userErrors"][0]["code"] == "INVALID_STATE"
    read = data(shopify_sandbox, READ, {"id": ret["id"]})["return"]
    assert read["order"]["returnStatus"] == "RETURNED"
    assert read["reverseFulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    counts = shopify_sandbox.control.return_mutation_counts(ret["id"])
    assert counts["returnProcess"] == {"calls": 2, "applied": 1}


def test_decline_keeps_the_money_and_frees_the_units(shopify_sandbox: ShopifySandbox) -> None:
    order_id, _order = _fulfilled_order(shopify_sandbox, lines=2)
    return_id = shopify_sandbox.control.return_request(order_id)  # every returnable unit, reason UNKNOWN
    bad = data(shopify_sandbox, DECLINE, {"id": return_id, "reason": "OTHER", "note": "x" * 501})
    assert bad["returnDeclineRequest"]["userErrors"][0]["code"] == "TOO_LONG"
    declined = data(shopify_sandbox, DECLINE, {"id": return_id, "reason": "FINAL_SALE", "note": "Final sale items"})
    ret = declined["returnDeclineRequest"]["return"]
    assert ret["status"] == "DECLINED"
    assert ret["decline"] == {"reason": "FINAL_SALE", "note": "Final sale items"}
    assert ret["order"]["returnStatus"] == "NO_RETURN"
    assert _money(ret["order"]["totalRefundedSet"]) == 0
    assert data(shopify_sandbox, APPROVE, {"id": return_id})["returnApproveRequest"]["userErrors"][0]["code"] == (
        "INVALID_STATE"
    )
    # The declined units can be returned again.
    again = shopify_sandbox.control.return_request(order_id)
    assert again != return_id
    snapshot = shopify_sandbox.control.snapshot(order_id)
    assert [r["status"] for r in snapshot["returns"]] == ["DECLINED", "REQUESTED"]
    assert snapshot["total_refunded"] == "0.00"


def test_create_validates_against_what_was_fulfilled(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox, lines=1)
    fli = _fulfillment_lines(order)[0]

    def create(**line: Any) -> dict[str, Any]:
        entry = {"fulfillmentLineItemId": fli["id"], "quantity": fli["quantity"], "returnReason": "SIZE_TOO_SMALL"}
        result: dict[str, Any] = data(
            shopify_sandbox, CREATE, {"input": {"orderId": order_id, "returnLineItems": [entry | line]}}
        )["returnCreate"]
        return result

    too_many = create(quantity=fli["quantity"] + 1)
    assert too_many["return"] is None
    assert too_many["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    assert too_many["userErrors"][0]["field"] == ["returnInput", "returnLineItems", "0", "quantity"]
    assert create(quantity=0)["userErrors"][0]["code"] == "GREATER_THAN"
    unknown = create(fulfillmentLineItemId="gid://shopify/FulfillmentLineItem/1")
    assert unknown["userErrors"][0]["code"] == "NOT_FOUND"
    made = create(restockingFee={"percentage": 10.0})
    assert made["userErrors"] == []
    assert made["return"]["status"] == "OPEN"
    fee = made["return"]["returnLineItems"]["nodes"][0]["restockingFee"]
    assert fee["percentage"] == 10.0
    assert _money(fee["amountSet"]) > 0
    # Everything is now in a live return: nothing more can be returned.
    assert create()["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    missing = data(
        shopify_sandbox,
        CREATE,
        {
            "input": {
                "orderId": "gid://shopify/Order/1",
                "returnLineItems": [{"fulfillmentLineItemId": fli["id"], "quantity": 1}],
            }
        },
    )["returnCreate"]
    assert missing["userErrors"] == [
        {"field": ["returnInput", "orderId"], "message": "Order does not exist.", "code": "NOT_FOUND"}
    ]
    unfulfilled = shopify_sandbox.control.create_order(status="paid", line_items=1)
    response = httpx.post(f"{shopify_sandbox.base_url}/_sandbox/orders/{unfulfilled.rsplit('/', 1)[1]}/return-request")
    assert response.status_code == 400
    assert "nothing left to return" in response.json()["error"]


def test_process_refuses_over_refunds_and_never_refunds_more_than_paid(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox, lines=2)
    entries = [{"fulfillmentLineItemId": f["id"], "quantity": f["quantity"]} for f in _fulfillment_lines(order)]
    ret = data(shopify_sandbox, CREATE, {"input": {"orderId": order_id, "returnLineItems": entries}})["returnCreate"][
        "return"
    ]
    lines = [{"id": n["id"], "quantity": n["quantity"]} for n in ret["returnLineItems"]["nodes"]]
    parent = next(t for t in order["transactions"] if t["kind"] in ("SALE", "CAPTURE"))
    paid = parent["amountSet"]["presentmentMoney"]
    too_much = {"amount": str(Decimal(paid["amount"]) + 1), "currencyCode": paid["currencyCode"]}
    refused = data(
        shopify_sandbox,
        PROCESS,
        {
            "input": {
                "returnId": ret["id"],
                "returnLineItems": lines,
                "financialTransfer": {
                    "issueRefund": {"orderTransactions": [{"parentId": parent["id"], "transactionAmount": too_much}]}
                },
            }
        },
    )["returnProcess"]
    assert refused["return"] is None
    assert refused["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    untouched = data(shopify_sandbox, READ, {"id": ret["id"]})["return"]
    assert all(n["processedQuantity"] == 0 for n in untouched["returnLineItems"]["nodes"])
    assert untouched["refunds"]["nodes"] == []

    outcome = data(shopify_sandbox, SUGGEST, {"id": ret["id"], "lines": lines, "shipping": {"fullRefund": True}})[
        "return"
    ]["suggestedFinancialOutcome"]
    processed = data(
        shopify_sandbox,
        PROCESS,
        {
            "input": {
                "returnId": ret["id"],
                "returnLineItems": lines,
                "refundShipping": {"fullRefund": True},
                "financialTransfer": {"issueRefund": {"orderTransactions": _refund_input(outcome)}},
            }
        },
    )["returnProcess"]
    assert processed["userErrors"] == []
    after = data(shopify_sandbox, ORDER, {"id": order_id})["order"]
    assert after["displayFinancialStatus"] == "REFUNDED"
    assert _money(after["totalRefundedSet"]) == _money(after["totalReceivedSet"])
    assert _money(after["netPaymentSet"]) == 0
    assert data(shopify_sandbox, CANCEL_RETURN, {"id": ret["id"]})["returnCancel"]["userErrors"][0]["code"] == (
        "INVALID_STATE"
    )


def test_process_without_a_refund_moves_no_money(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox, lines=1)
    fli = _fulfillment_lines(order)[0]
    ret = data(
        shopify_sandbox,
        CREATE,
        {"input": {"orderId": order_id, "returnLineItems": [{"fulfillmentLineItemId": fli["id"], "quantity": 1}]}},
    )["returnCreate"]["return"]
    line = ret["returnLineItems"]["nodes"][0]
    rfo_line = ret["reverseFulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]
    disposition = {
        "reverseFulfillmentOrderLineItemId": rfo_line["id"],
        "quantity": 1,
        "dispositionType": "NOT_RESTOCKED",
    }

    def process(chosen: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = data(
            shopify_sandbox,
            PROCESS,
            {
                "input": {
                    "returnId": ret["id"],
                    "returnLineItems": [{"id": line["id"], "quantity": 1, "dispositions": [chosen]}],
                }
            },
        )["returnProcess"]
        return answer

    restock = disposition | {"dispositionType": "RESTOCKED"}
    assert process(restock)["userErrors"][0]["code"] == "BLANK"
    unknown = process(restock | {"locationId": "gid://shopify/Location/1"})["userErrors"][0]
    assert (unknown["field"][-1], unknown["code"]) == ("locationId", "NOT_FOUND")
    assert process(disposition | {"quantity": 2})["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    done = process(disposition)["return"]
    node = done["returnLineItems"]["nodes"][0]
    assert (node["processedQuantity"], node["refundedQuantity"], node["refundableQuantity"]) == (1, 0, 1)
    assert done["reverseFulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]["dispositions"] == [
        {"type": "NOT_RESTOCKED", "quantity": 1}
    ]
    assert _money(done["order"]["totalRefundedSet"]) == 0


def test_active_return_blocks_order_cancel_and_cancel_then_reopen(shopify_sandbox: ShopifySandbox) -> None:
    order_id, _ = _fulfilled_order(shopify_sandbox, lines=1)
    return_id = shopify_sandbox.control.return_request(order_id)
    refused = data(shopify_sandbox, ORDER_CANCEL, {"id": order_id})["orderCancel"]
    assert refused["job"] is None
    assert "active return" in refused["orderCancelUserErrors"][0]["message"]
    assert data(shopify_sandbox, CLOSE, {"id": return_id})["returnClose"]["userErrors"][0]["code"] == "INVALID_STATE"
    cancelled = data(shopify_sandbox, CANCEL_RETURN, {"id": return_id})["returnCancel"]["return"]
    assert cancelled["status"] == "CANCELED"
    still = data(shopify_sandbox, ORDER_CANCEL, {"id": order_id})["orderCancel"]["orderCancelUserErrors"][0]
    assert "active return" not in still["message"]  # refused now only because the order has fulfillments

    opened = data(shopify_sandbox, APPROVE, {"id": shopify_sandbox.control.return_request(order_id)})[
        "returnApproveRequest"
    ]["return"]
    assert data(shopify_sandbox, CLOSE, {"id": opened["id"]})["returnClose"]["return"]["status"] == "CLOSED"
    assert data(shopify_sandbox, REOPEN, {"id": opened["id"]})["returnReopen"]["return"]["status"] == "OPEN"


def test_orders_search_by_return_status(shopify_sandbox: ShopifySandbox) -> None:
    requested_id, _ = _fulfilled_order(shopify_sandbox, lines=1)
    opened_id, _ = _fulfilled_order(shopify_sandbox, lines=1)
    shopify_sandbox.control.return_request(requested_id)
    data(shopify_sandbox, APPROVE, {"id": shopify_sandbox.control.return_request(opened_id)})
    query = "query($q: String!) { orders(first: 50, query: $q) { nodes { id returnStatus } } }"

    def found(text: str) -> list[str]:
        return [n["id"] for n in data(shopify_sandbox, query, {"q": text})["orders"]["nodes"]]

    assert found("return_status:return_requested") == [requested_id]
    assert found("return_status:in_progress") == [opened_id]
    assert requested_id not in found("return_status:no_return")


def test_control_return_request_over_http(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox, lines=2)
    numeric = order_id.rsplit("/", 1)[1]
    line_item = _fulfillment_lines(order)[1]["lineItem"]["id"]
    base = shopify_sandbox.base_url
    body = {"line_items": [{"line_item_id": line_item, "quantity": 1, "reason": "WRONG_ITEM", "customer_note": "blue"}]}
    made = httpx.post(f"{base}/_sandbox/orders/{numeric}/return-request", json=body)
    assert made.status_code == 200, made.text
    return_id = made.json()["id"]
    snap = httpx.get(f"{base}/_sandbox/returns/{return_id.rsplit('/', 1)[1]}").json()
    assert snap["status"] == "REQUESTED"
    assert snap["mutations"] == {"returnRequest": {"calls": 1, "applied": 1}}
    assert [(x["line_item_id"], x["quantity"], x["reason"]) for x in snap["line_items"]] == [
        (line_item, 1, "WRONG_ITEM")
    ]
    too_many = {"line_items": [{"line_item_id": line_item, "quantity": 5}]}
    assert httpx.post(f"{base}/_sandbox/orders/{numeric}/return-request", json=too_many).status_code == 400
    assert httpx.post(f"{base}/_sandbox/orders/{numeric}/return-request", json={"line_items": [3]}).status_code == 400
    assert httpx.post(f"{base}/_sandbox/orders/999/return-request", json={}).status_code == 404
    assert httpx.get(f"{base}/_sandbox/returns/123").status_code == 404


FEES = """
query($id: ID!, $lines: [SuggestedOutcomeReturnLineItemInput!]!) {
  return(id: $id) {
    returnShippingFees { id amountSet { shopMoney { amount } } }
    returnLineItems(first: 5) {
      nodes { ... on ReturnLineItem { restockingFee { amountSet { shopMoney { amount } } } } }
    }
    suggestedFinancialOutcome(returnLineItems: $lines, exchangeLineItems: []) {
      discountedSubtotal { shopMoney { amount } }
      totalTax { shopMoney { amount } }
      financialTransfer { ... on RefundReturnOutcome { amount { shopMoney { amount } } } }
    }
  }
}
"""


def test_restocking_and_return_shipping_fees_come_off_the_suggested_refund(shopify_sandbox: ShopifySandbox) -> None:
    order_id, order = _fulfilled_order(shopify_sandbox, lines=1)
    fli = _fulfillment_lines(order)[0]
    currency = order["transactions"][0]["amountSet"]["presentmentMoney"]["currencyCode"]
    entry = {"fulfillmentLineItemId": fli["id"], "quantity": 1, "restockingFee": {"percentage": 20.0}}
    payload = {
        "orderId": order_id,
        "returnLineItems": [entry],
        "returnShippingFee": {"amount": {"amount": "2.00", "currencyCode": currency}},
    }
    ret = data(shopify_sandbox, CREATE, {"input": payload})["returnCreate"]["return"]
    line = ret["returnLineItems"]["nodes"][0]
    read = data(shopify_sandbox, FEES, {"id": ret["id"], "lines": [{"id": line["id"], "quantity": 1}]})["return"]
    fee = _money(read["returnLineItems"]["nodes"][0]["restockingFee"]["amountSet"])
    outcome = read["suggestedFinancialOutcome"]
    gross = _money(outcome["discountedSubtotal"]) + _money(outcome["totalTax"])
    assert fee == (_money(outcome["discountedSubtotal"]) * Decimal("0.2")).quantize(Decimal("0.01"))
    (shipping_fee,) = [_money(f["amountSet"]) for f in read["returnShippingFees"]]
    assert shipping_fee > 0
    assert _money(outcome["financialTransfer"]["amount"]) == gross - fee - shipping_fee
