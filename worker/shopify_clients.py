"""How the service builds its Shopify clients: credentials from the ledger and the environment, traffic
counted in Prometheus. ``integrations.shopify`` takes plain arguments and knows nothing of this."""

from __future__ import annotations

from typing import Any

from integrations.shopify.client import ShopifyClient, same_shop
from models.shop import Shop
from worker.errors import UsageError
from worker.observability.metrics import SHOPIFY_COST_POINTS, SHOPIFY_REQUESTS, SHOPIFY_THROTTLE_WAIT_SECONDS
from worker.settings import Settings


class PrometheusObserver:
    """The client's observer: each report increments the matching ``dropsync_shopify_*`` counter."""

    def request(self, outcome: str) -> None:
        SHOPIFY_REQUESTS.labels(outcome=outcome).inc()

    def cost_points(self, points: float) -> None:
        SHOPIFY_COST_POINTS.inc(points)

    def throttle_wait(self, seconds: float) -> None:
        SHOPIFY_THROTTLE_WAIT_SECONDS.inc(seconds)


PROMETHEUS_OBSERVER = PrometheusObserver()


def shopify_client_for(shop: Shop, settings: Settings, **options: Any) -> ShopifyClient:
    """The client of a ledger shop. For the environment's shop (``SHOPIFY_SHOP_DOMAIN``) the environment's
    token and ``SHOPIFY_API_URL`` win; other shops use their own columns, falling back to
    ``SHOPIFY_API_URL`` for the endpoint (one sandbox serving a development deployment)."""
    from_env = same_shop(shop.domain, settings.shopify_shop_domain)
    token = (settings.shopify_access_token if from_env else None) or shop.access_token
    if not token:
        raise UsageError(f"shop {shop.domain} has no access token (set SHOPIFY_ACCESS_TOKEN or add it)")
    api_url = (settings.shopify_api_url or shop.api_url) if from_env else (shop.api_url or settings.shopify_api_url)
    options.setdefault("observer", PROMETHEUS_OBSERVER)
    return ShopifyClient(shop.domain, token, api_version=settings.shopify_api_version, api_url=api_url,
                         timeout=settings.shopify_timeout_seconds, **options)  # fmt: skip
