"""``webhookSubscriptionCreate`` / ``webhookSubscriptionDelete``: register where webhooks go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sandboxes.shopify.model import parse_gid
from sandboxes.shopify.state import Subscription
from sandboxes.shopify.views.records import WebhookSubscriptionView
from sandboxes.shopify.webhooks import TOPICS

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


def create_subscription(sandbox: ShopifySandbox, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """Subscribe an HTTP(S) URL to a topic. One subscription per (topic, uri), as on Shopify."""
    state = sandbox.state
    uri = data.get("uri") or data.get("callbackUrl")
    error = _invalid(topic, uri)
    if error is None and any(s.topic == topic and s.uri == uri for s in state.subscriptions.values()):
        error = {
            "field": ["webhookSubscription", "callbackUrl"],
            "message": "Address for this topic has already been taken",
        }
    if error is not None:
        return {"webhookSubscription": None, "userErrors": [error]}
    assert uri is not None
    now = state.clock.now()
    sub_id = 1_000_000_000 + state.serial()
    sub = Subscription(
        sub_id,
        topic,
        uri,
        now,
        now,
        data.get("format") or "JSON",
        list(data.get("includeFields") or []),
        data.get("filter"),
    )
    state.subscriptions[sub_id] = sub
    return {"webhookSubscription": WebhookSubscriptionView(state, sub), "userErrors": []}


def _invalid(topic: str, uri: str | None) -> dict[str, Any] | None:
    if topic not in TOPICS:
        return {"field": ["topic"], "message": f"not supported by the sandbox: webhook topic {topic}"}
    if not uri:
        return {"field": ["webhookSubscription", "callbackUrl"], "message": "Address can't be blank"}
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}
    return None


def delete_subscription(sandbox: ShopifySandbox, value: str) -> dict[str, Any]:
    numeric = parse_gid(value, "WebhookSubscription")
    if numeric is None or sandbox.state.subscriptions.pop(numeric, None) is None:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
        }
    return {"deletedWebhookSubscriptionId": value, "userErrors": []}
