"""Webhook subscriptions and deliveries: headers, HMAC, unique delivery ids, retries, REST payload shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx

from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import Receiver, all_orders, data

SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { callbackUrl: $url, format: JSON }) {
    webhookSubscription { id topic uri format }
    userErrors { field message }
  }
}
"""


def _verify(sandbox: ShopifySandbox, delivery: dict[str, object]) -> bool:
    body = delivery["body"]
    assert isinstance(body, bytes)
    headers = delivery["headers"]
    assert isinstance(headers, dict)
    digest = hmac.new(sandbox.config.client_secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), headers["X-Shopify-Hmac-Sha256"])


def test_subscribe_through_graphql_and_list(shopify_sandbox: ShopifySandbox) -> None:
    made = data(shopify_sandbox, SUBSCRIBE, {"topic": "ORDERS_UPDATED", "url": "http://127.0.0.1:9/hooks"})
    assert made["webhookSubscriptionCreate"]["userErrors"] == []
    again = data(shopify_sandbox, SUBSCRIBE, {"topic": "ORDERS_UPDATED", "url": "http://127.0.0.1:9/hooks"})
    assert "already been taken" in again["webhookSubscriptionCreate"]["userErrors"][0]["message"]
    bad = data(shopify_sandbox, SUBSCRIBE, {"topic": "ORDERS_UPDATED", "url": "ftp://nowhere"})
    assert bad["webhookSubscriptionCreate"]["userErrors"]
    listed = data(shopify_sandbox, "{ webhookSubscriptions(first: 10) { nodes { topic uri } } }")
    assert listed["webhookSubscriptions"]["nodes"] == [{"topic": "ORDERS_UPDATED", "uri": "http://127.0.0.1:9/hooks"}]


def test_deliveries_are_signed_with_shopify_headers(shopify_sandbox: ShopifySandbox) -> None:
    with Receiver() as receiver:
        data(shopify_sandbox, SUBSCRIBE, {"topic": "ORDERS_UPDATED", "url": receiver.url})
        shopify_sandbox.control.touch_order("#1005", note="hello")
        shopify_sandbox.control.touch_order("#1006", note="again")
        deliveries = receiver.wait_for(2)
    assert len(deliveries) == 2
    for delivery in deliveries:
        headers = delivery["headers"]
        assert _verify(shopify_sandbox, delivery)
        assert headers["X-Shopify-Topic"] == "orders/updated"
        assert headers["X-Shopify-Shop-Domain"] == "sandbox.myshopify.com"
        assert headers["X-Shopify-API-Version"] == "2026-10"
        assert headers["X-Shopify-Triggered-At"]
        assert headers["X-Shopify-Event-Id"]
    assert len({d["headers"]["X-Shopify-Webhook-Id"] for d in deliveries}) == 2
    payload = json.loads(deliveries[0]["body"])
    assert payload["name"] == "#1005"
    assert payload["note"] == "hello"
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Order/{payload['id']}"
    for key in (
        "currency",
        "presentment_currency",
        "total_price",
        "subtotal_price",
        "total_tax",
        "total_discounts",
        "total_shipping_price_set",
        "financial_status",
        "fulfillment_status",
        "cancelled_at",
        "cancel_reason",
        "created_at",
        "updated_at",
        "tags",
        "note_attributes",
        "email",
        "customer",
        "shipping_address",
        "line_items",
        "fulfillments",
        "refunds",
    ):
        assert key in payload, key
    assert isinstance(payload["total_price"], str)
    assert isinstance(payload["tags"], str)


def test_one_change_shares_an_event_id_across_topics(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    with Receiver() as receiver:
        for topic in ("orders/updated", "orders/cancelled", "refunds/create"):
            control.subscribe(topic, receiver.url)
        target = control.create_order(status="paid")
        receiver.wait_for(1)
        receiver.deliveries.clear()
        cancel = "mutation($id: ID!) { orderCancel(orderId: $id, reason: INVENTORY, restock: true, refund: true) {"
        cancel += " job { id } } }"
        data(shopify_sandbox, cancel, {"id": target})
        deliveries = receiver.wait_for(3)
    assert sorted(receiver.topics()) == ["orders/cancelled", "orders/updated", "refunds/create"]
    assert len({d["headers"]["X-Shopify-Event-Id"] for d in deliveries}) == 1
    assert len({d["headers"]["X-Shopify-Webhook-Id"] for d in deliveries}) == 3
    refund = json.loads(next(d["body"] for d in deliveries if d["headers"]["X-Shopify-Topic"] == "refunds/create"))
    assert refund["order_id"] == int(target.rsplit("/", 1)[1])
    assert refund["transactions"][0]["kind"] == "refund"
    assert refund["refund_line_items"][0]["restock_type"] == "cancel"
    cancelled = json.loads(next(d["body"] for d in deliveries if d["headers"]["X-Shopify-Topic"] == "orders/cancelled"))
    assert cancelled["cancel_reason"] == "inventory"
    assert cancelled["financial_status"] == "refunded"


def test_failed_deliveries_are_retried_with_the_same_webhook_id(shopify_sandbox: ShopifySandbox) -> None:
    with Receiver(statuses=[500, 503]) as receiver:
        shopify_sandbox.control.subscribe("orders/updated", receiver.url)
        shopify_sandbox.control.touch_order("#1002")
        deliveries = receiver.wait_for(3)
        assert shopify_sandbox.control.wait_for_webhooks(5)
    assert len(deliveries) == 3
    assert len({d["headers"]["X-Shopify-Webhook-Id"] for d in deliveries}) == 1
    assert [d["body"] for d in deliveries] == [deliveries[0]["body"]] * 3, "retries carry the original payload"
    outcomes = [a["outcome"] for a in shopify_sandbox.control.deliveries()]
    assert outcomes == ["retrying", "retrying", "delivered"]


def test_gives_up_after_the_backoff_schedule(shopify_sandbox: ShopifySandbox) -> None:
    with Receiver(statuses=[500] * 10) as receiver:
        shopify_sandbox.control.subscribe("orders/updated", receiver.url)
        shopify_sandbox.control.touch_order("#1002")
        receiver.wait_for(4)
        assert shopify_sandbox.control.wait_for_webhooks(5)
    assert len(receiver.deliveries) == 1 + len(shopify_sandbox.config.webhook_backoff)
    assert shopify_sandbox.control.deliveries()[-1]["outcome"] == "failed"


def test_fulfillment_order_and_bulk_topics(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    with Receiver() as receiver:
        control.subscribe("fulfillment_orders/cancellation_request_accepted", receiver.url)
        control.subscribe("orders/fulfilled", receiver.url)
        control.subscribe("fulfillments/create", receiver.url)
        order = control.create_order(status="accepted")
        control.fulfillment(order, "request_cancellation")
        control.fulfillment(order, "accept_cancellation")
        control.fulfillment(order, "submit")
        control.fulfillment(order, "accept")
        control.fulfillment(order, "fulfill")
        receiver.wait_for(3)
    assert receiver.topics() == [
        "fulfillment_orders/cancellation_request_accepted",
        "orders/fulfilled",
        "fulfillments/create",
    ]
    shipped = json.loads(receiver.deliveries[2]["body"])
    assert shipped["tracking_number"]
    assert shipped["status"] == "success"
    body = json.loads(receiver.deliveries[0]["body"])
    assert body["fulfillment_order"]["request_status"] == "cancellation_accepted"
    assert _verify(shopify_sandbox, receiver.deliveries[1])


def test_cancellation_request_payloads_carry_the_message(shopify_sandbox: ShopifySandbox) -> None:
    control = shopify_sandbox.control
    with Receiver() as receiver:
        control.subscribe("fulfillment_orders/cancellation_request_submitted", receiver.url)
        control.subscribe("fulfillment_orders/fulfillment_request_submitted", receiver.url)
        order = control.create_order(status="accepted")
        fo_id = control.snapshot(order)["fulfillment_orders"][0]["id"]
        request = 'mutation($id: ID!) { fulfillmentOrderSubmitCancellationRequest(id: $id, message: "buyer asked") '
        data(shopify_sandbox, request + "{ userErrors { message } } }", {"id": fo_id})
        other = control.create_order(status="paid")
        control.fulfillment(other, "submit", message="please ship")
        receiver.wait_for(2)
    bodies = {d["headers"]["X-Shopify-Topic"]: json.loads(d["body"]) for d in receiver.deliveries}
    cancel = bodies["fulfillment_orders/cancellation_request_submitted"]
    assert cancel["message"] == "buyer asked"
    assert cancel["fulfillment_order"] == {
        "id": fo_id,
        "status": "in_progress",
        "request_status": "cancellation_requested",
        "order_id": order,
        "assigned_location_id": "gid://shopify/Location/71000000001",
    }
    submitted = bodies["fulfillment_orders/fulfillment_request_submitted"]
    assert submitted["original_fulfillment_order"]["request_status"] == "submitted"
    assert submitted["message"] == "please ship"


def test_privacy_webhooks_are_sent_signed(shopify_sandbox: ShopifySandbox) -> None:
    with Receiver() as receiver:
        shopify_sandbox.control.privacy_webhook("customers/redact", receiver.url, order="#1002")
        base = f"{shopify_sandbox.base_url}/_sandbox/webhooks/privacy"
        assert httpx.post(base, json={"topic": "shop/redact", "url": receiver.url}).status_code == 200
        assert httpx.post(base, json={"topic": "orders/create", "url": receiver.url}).status_code == 400
        receiver.wait_for(2)
    redact = json.loads(receiver.deliveries[0]["body"])
    assert receiver.topics() == ["customers/redact", "shop/redact"]
    assert redact["orders_to_redact"] == [5000000000001]
    assert redact["shop_domain"] == "sandbox.myshopify.com"
    assert redact["customer"]["email"]
    assert _verify(shopify_sandbox, receiver.deliveries[1])


def test_deleted_order_fires_orders_delete_and_leaves_listings(shopify_sandbox: ShopifySandbox) -> None:
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("orders/delete", receiver.url)
        shopify_sandbox.control.delete_order("#1003")
        receiver.wait_for(1)
    assert json.loads(receiver.deliveries[0]["body"]) == {"id": 5000000000002}
    assert data(shopify_sandbox, '{ order(id: "gid://shopify/Order/5000000000002") { id } }')["order"] is None
    names = {o["name"] for o in all_orders(shopify_sandbox, page_size=50)}
    assert "#1003" not in names
    assert len(names) == 49
    assert data(shopify_sandbox, "{ ordersCount { count } }")["ordersCount"]["count"] == 49
