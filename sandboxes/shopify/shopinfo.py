"""The sandbox shop's own facts, one home for GraphQL (``Shop``, ``currentAppInstallation``) and REST
(``shop.json``, ``access_scopes.json``): its address, creation date, plan names and the app's scopes."""

from __future__ import annotations

from datetime import UTC, datetime

from sandboxes.shopify.config import SandboxConfig
from sandboxes.shopify.model import Order

SHOP_ID = 60_000_000_001
APP_INSTALLATION_ID = 61_000_000_001
CREATED_AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
# What dropsync's README asks the merchant to grant, plus the read scopes sync tools commonly hold.
ACCESS_SCOPES = (
    "read_orders",
    "write_orders",
    "read_all_orders",
    "read_customers",
    "read_products",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_third_party_fulfillment_orders",
    "write_third_party_fulfillment_orders",
    "read_shopify_payments_disputes",
    "read_returns",
    "write_returns",
)
PLAN_NAMES = {"standard": "Basic", "advanced": "Advanced", "plus": "Shopify Plus", "enterprise": "Enterprise"}
REST_PLAN_NAMES = {"standard": "basic", "advanced": "advanced", "plus": "shopify_plus", "enterprise": "enterprise"}
ADDRESS = {
    "address1": "150 Elgin Street",
    "address2": "8th floor",
    "city": "Ottawa",
    "province": "Ontario",
    "province_code": "ON",
    "country": "Canada",
    "country_code": "CA",
    "zip": "K2P 1L4",
    "phone": "+16135550100",
    "company": None,
}


def shop_name(config: SandboxConfig) -> str:
    return config.shop_domain.split(".", 1)[0].replace("-", " ").title()


def shop_email(config: SandboxConfig) -> str:
    return f"owner@{config.shop_domain}"


def confirmation_number(order: Order) -> str:
    """The customer-facing confirmation code (GraphQL ``confirmationNumber``, REST ``confirmation_number``)."""
    return f"SBX{order.id % 10**9:09d}"


def status_page_url(config: SandboxConfig, order: Order) -> str:
    """The order status page (GraphQL ``statusPageUrl``, REST ``order_status_url``)."""
    return f"https://{config.shop_domain}/{SHOP_ID}/orders/{order.id:x}/authenticate"
