"""``returns/*`` webhooks (REST-shaped, signed, one event id per change with orders/updated and refunds/create),
and returnProcess under a dropped response: applied once, the caller sees it by reading the return."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import Receiver, data, post

TOPICS = ("request", "approve", "decline", "cancel", "close", "process", "reopen", "update")
RETURN = """
query($id: ID!) {
  return(id: $id) {
    id status
    returnLineItems(first: 10) { nodes { id quantity processedQuantity } }
    refunds(first: 5) { nodes { id } }
    suggestedFinancialOutcome(returnLineItems: [], exchangeLineItems: []) { maximumRefundable { shopMoney { amount } } }
  }
}
"""
ORDER = """
query($id: ID!) {
  order(id: $id) { transactions { id kind amountSet { presentmentMoney { amount currencyCode } } } }
}
"""
APPROVE = "mutation($id: ID!) { returnApproveRequest(input: { id: $id }) { return { id } userErrors { code } } }"
DECLINE = """
mutation($id: ID!) {
  returnDeclineRequest(input: { id: $id, declineReason: RETURN_PERIOD_ENDED, declineNote: "30 days passed" }) {
    return { id } userErrors { code }
  }
}
"""
CLOSE = "mutation($id: ID!) { returnClose(id: $id) { return { id } userErrors { code } } }"
PROCESS = """
mutation($input: ReturnProcessInput!) {
  returnProcess(input: $input) { return { id } userErrors { field message code } }
}
"""


def _signed(sandbox: ShopifySandbox, delivery: dict[str, Any]) -> bool:
    digest = hmac.new(sandbox.config.client_secret.encode(), delivery["body"], hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), delivery["headers"]["X-Shopify-Hmac-Sha256"])


def _by_topic(deliveries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        found.setdefault(delivery["headers"]["X-Shopify-Topic"], []).append(delivery)
    return found


def _process_input(sandbox: ShopifySandbox, order_id: str, return_id: str) -> dict[str, Any]:
    ret = data(sandbox, RETURN, {"id": return_id})["return"]
    sale = next(
        t for t in data(sandbox, ORDER, {"id": order_id})["order"]["transactions"] if t["kind"] in ("SALE", "CAPTURE")
    )
    money = sale["amountSet"]["presentmentMoney"]
    line = ret["returnLineItems"]["nodes"][0]
    return {
        "returnId": return_id,
        "returnLineItems": [{"id": line["id"], "quantity": 1}],
        "refundShipping": {"shippingRefundAmount": {"amount": "0.00", "currencyCode": money["currencyCode"]}},
        "financialTransfer": {
            "issueRefund": {
                "orderTransactions": [
                    {
                        "parentId": sale["id"],
                        "transactionAmount": {"amount": "1.00", "currencyCode": money["currencyCode"]},
                    }
                ]
            }
        },
        "note": "[test-note]",
    }


def test_return_topics_are_rest_shaped_signed_and_share_the_event(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    with Receiver() as receiver:
        for topic in (*(f"returns/{t}" for t in TOPICS), "refunds/create", "orders/updated"):
            control.subscribe(topic, receiver.url)
        order_id = control.create_order(status="fulfilled", line_items=2)
        snapshot = control.snapshot(order_id)
        line_item = snapshot["line_items"][0]["id"]
        first = control.return_request(
            order_id, [{"line_item_id": line_item, "quantity": 1, "reason": "SIZE_TOO_SMALL", "customer_note": "tight"}]
        )
        data(shopify_sandbox, DECLINE, {"id": first})
        second = control.return_request(order_id, [{"line_item_id": line_item, "quantity": 1, "reason": "DEFECTIVE"}])
        data(shopify_sandbox, APPROVE, {"id": second})
        result = data(shopify_sandbox, PROCESS, {"input": _process_input(shopify_sandbox, order_id, second)})
        assert result["returnProcess"]["userErrors"] == []
        data(shopify_sandbox, CLOSE, {"id": second})
        control.wait_for_webhooks()
        deliveries = receiver.wait_for(20)
    assert all(_signed(shopify_sandbox, d) for d in deliveries)
    topics = _by_topic(deliveries)
    assert {t: len(v) for t, v in topics.items() if t.startswith("returns/")} == {
        "returns/request": 2,
        "returns/decline": 1,
        "returns/approve": 1,
        "returns/process": 1,
        "returns/close": 1,
        "returns/update": 6,
    }
    request = json.loads(topics["returns/request"][0]["body"])
    order_numeric = int(order_id.rsplit("/", 1)[1])
    assert request["admin_graphql_api_id"] == first
    assert request["id"] == int(first.rsplit("/", 1)[1])
    assert request["status"] == "requested"
    assert request["order"] == {"id": order_numeric, "admin_graphql_api_id": order_id}
    assert request["total_return_line_items_quantity"] == 1
    (line,) = request["return_line_items"]
    assert line["return_reason"] == "size_too_small"
    assert line["customer_note"] == "tight"
    assert line["fulfillment_line_item"]["line_item"]["admin_graphql_api_id"] == line_item
    declined = json.loads(topics["returns/decline"][0]["body"])
    assert declined["status"] == "declined"
    assert declined["decline"] == {"reason": "return_period_ended", "note": "30 days passed"}
    processed = topics["returns/process"][0]
    body = json.loads(processed["body"])
    assert body["return_line_items"][0]["processed_quantity"] == 1
    assert len(body["refunds"]) == 1
    # One change, one event: the refund, the order update and the return's topics share the event id.
    event = processed["headers"]["X-Shopify-Event-Id"]
    same_event = {d["headers"]["X-Shopify-Topic"] for d in deliveries if d["headers"]["X-Shopify-Event-Id"] == event}
    assert same_event == {"returns/process", "returns/update", "refunds/create", "orders/updated"}
    refund = json.loads(next(d for d in topics["refunds/create"])["body"])
    assert refund["note"] == "[test-note]"
    assert refund["return"] == {"id": int(second.rsplit("/", 1)[1]), "admin_graphql_api_id": second}
    assert refund["transactions"][0]["kind"] == "refund"
    assert json.loads(topics["returns/close"][0]["body"])["status"] == "closed"


def test_dropped_return_process_is_applied_once_and_readable(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    order_id = control.create_order(status="fulfilled", line_items=1)
    return_id = control.return_request(order_id)
    data(shopify_sandbox, APPROVE, {"id": return_id})
    sent = _process_input(shopify_sandbox, order_id, return_id)
    control.fail_next("drop", "returnProcess")
    with pytest.raises(httpx.HTTPError):
        post(shopify_sandbox, PROCESS, {"input": sent})
    after = data(shopify_sandbox, RETURN, {"id": return_id})["return"]
    assert after["returnLineItems"]["nodes"][0]["processedQuantity"] == 1
    assert len(after["refunds"]["nodes"]) == 1
    retried = data(shopify_sandbox, PROCESS, {"input": sent})["returnProcess"]
    assert retried["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    assert control.snapshot(order_id)["refund_count"] == 1
    assert control.return_mutation_counts(return_id)["returnProcess"] == {"calls": 2, "applied": 1}
