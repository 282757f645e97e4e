"""The webhook subscriptions the worker needs, registered with ``dropsync shopify subscribe``."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import raise_for_user_errors

#: Topic enum → why dropsync needs it. The privacy topics are configured in the app's settings on
#: Shopify's side (Partner dashboard / app TOML), not by API: listed in the README.
TOPICS: dict[str, str] = {
    "ORDERS_CREATE": "mirror new orders",
    "ORDERS_UPDATED": "mirror every change",
    "ORDERS_CANCELLED": "close cancellation intents",
    "ORDERS_FULFILLED": "fulfilment status",
    "ORDERS_PARTIALLY_FULFILLED": "fulfilment status",
    "ORDERS_PAID": "payment status",
    "ORDERS_DELETE": "deleted orders",
    "REFUNDS_CREATE": "close refund intents, money out",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_ACCEPTED": "fulfillment service accepted a cancellation",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_REJECTED": "fulfillment service rejected a cancellation",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_SUBMITTED": "cancellation requests through the service",
    "FULFILLMENT_ORDERS_CANCELLED": "fulfillment order cancelled",
    "BULK_OPERATIONS_FINISH": "backfill finished",
    "DISPUTES_CREATE": "chargebacks: a Shopify Payments dispute opened",
    "DISPUTES_UPDATE": "chargebacks: evidence sent, dispute decided",
    "RETURNS_REQUEST": "a customer asks for a return: the policy decides",
    "RETURNS_APPROVE": "returns workflow",
    "RETURNS_DECLINE": "returns workflow",
    "RETURNS_CANCEL": "returns workflow",
    "RETURNS_CLOSE": "returns workflow",
    "RETURNS_PROCESS": "returns workflow",
    "RETURNS_UPDATE": "returns workflow",
    "RETURNS_REOPEN": "returns workflow",
}


@dataclass(frozen=True)
class Subscription:
    topic: str
    uri: str
    created: bool


def subscribe_all(client: ShopifyClient, callback_url: str) -> list[Subscription]:
    """Create each missing subscription to ``callback_url``; existing ones are left as they are."""
    existing = {(s["topic"], s["uri"]) for s in _existing(client)}
    done: list[Subscription] = []
    for topic in TOPICS:
        if (topic, callback_url) in existing:
            done.append(Subscription(topic, callback_url, created=False))
            continue
        payload = client.execute("WebhookSubscriptionCreate", {"topic": topic, "uri": callback_url})
        raise_for_user_errors(payload["webhookSubscriptionCreate"], operation="webhookSubscriptionCreate")
        done.append(Subscription(topic, callback_url, created=True))
    return done


def _existing(client: ShopifyClient) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    cursor = None
    while True:
        data = client.execute("WebhookSubscriptions", {"first": 100, "after": cursor})["webhookSubscriptions"]
        found += [{"topic": n["topic"], "uri": n.get("uri") or ""} for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            return found
        cursor = data["pageInfo"]["endCursor"]
