"""REST Admin API bodies: the webhook order shape (``payloads.py``, one home for it) plus the fields the
REST resource carries that a webhook body leaves out, and the shop, fulfillment orders, events and scopes.

Money is a two-decimal string, ids are numbers, times ISO-8601 with an offset, enums in snake case.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ledger, payloads, shopinfo
from sandboxes.shopify.model import FulfillmentOrder, Order, gid, pair_sum
from sandboxes.shopify.views.base import amount
from sandboxes.shopify.views.fulfillment import _ACTIONS as ACTIONS

if TYPE_CHECKING:
    from sandboxes.shopify.config import SandboxConfig
    from sandboxes.shopify.state import ShopState


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def order_resource(state: ShopState, order: Order) -> dict[str, Any]:
    """``GET orders/{id}.json``'s ``order``: the webhook body and the REST-only fields."""
    body = payloads.order_json(state, order)
    figures = ledger.Figures(order)
    removed_lines = [line for refund in order.refunds for line in refund.lines]
    current_subtotal = figures.subtotal() - pair_sum([line.subtotal for line in removed_lines])
    current_tax = figures.total_tax() - pair_sum([line.tax for line in removed_lines])
    line_items_price = pair_sum([item.unit_price.times(item.quantity) for item in order.line_items])
    body.update(
        {
            "number": order.number - 1000,
            "token": f"{order.id:x}{order.index:08x}",
            "confirmed": True,
            "confirmation_number": shopinfo.confirmation_number(order),
            "contact_email": order.customer.email,
            "buyer_accepts_marketing": False,
            "taxes_included": False,
            "tax_exempt": False,
            "estimated_taxes": False,
            "total_weight": 0,
            "total_tip_received": "0.00",
            "customer_locale": "en",
            "browser_ip": None,
            "landing_site": None,
            "referring_site": None,
            "location_id": None,
            "user_id": None,
            "app_id": None,
            "order_status_url": shopinfo.status_page_url(state.config, order),
            "total_line_items_price": amount(line_items_price.shop),
            "total_line_items_price_set": payloads.price_set(line_items_price, order),
            "current_subtotal_price": amount(current_subtotal.shop),
            "current_subtotal_price_set": payloads.price_set(current_subtotal, order),
            "current_total_tax": amount(current_tax.shop),
            "current_total_tax_set": payloads.price_set(current_tax, order),
            "current_total_price_set": payloads.price_set(figures.current_total(), order),
            "current_total_discounts": amount(figures.total_discounts().shop),
            "current_total_discounts_set": payloads.price_set(figures.total_discounts(), order),
            "tax_lines": _order_tax_lines(order),
            "discount_applications": [
                {
                    "type": "discount_code",
                    "code": code,
                    "value": "10.0",
                    "value_type": "percentage",
                    "allocation_method": "across",
                    "target_selection": "all",
                    "target_type": "line_item",
                }
                for code in order.discount_codes
            ],
        }
    )
    return body


def _order_tax_lines(order: Order) -> list[dict[str, Any]]:
    by_rate: dict[Any, Any] = {}
    for item in order.line_items:
        if item.tax_rate:
            by_rate[item.tax_rate] = by_rate[item.tax_rate] + item.tax if item.tax_rate in by_rate else item.tax
    return [
        {
            "title": "Tax",
            "rate": float(rate),
            "price": amount(total.shop),
            "price_set": payloads.price_set(total, order),
        }
        for rate, total in sorted(by_rate.items())
    ]


def select_fields(resource: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """``fields=id,name``: only those top-level keys (unknown names are left out, as Shopify does)."""
    if fields is None:
        return resource
    return {name: resource[name] for name in fields if name in resource}


def transactions(order: Order) -> list[dict[str, Any]]:
    every = order.transactions + [t for refund in order.refunds for t in refund.transactions]
    every.sort(key=lambda t: (t.created_at, t.id))
    return [payloads.transaction_json(order, t) for t in every]


def fulfillment_order_resource(order: Order, fo: FulfillmentOrder) -> dict[str, Any]:
    address = order.shipping_address
    closed = fo.status in ("CLOSED", "CANCELLED")
    return {
        "id": fo.id,
        "admin_graphql_api_id": gid("FulfillmentOrder", fo.id),
        "shop_id": shopinfo.SHOP_ID,
        "order_id": order.id,
        "assigned_location_id": fo.location_id,
        "request_status": fo.request_status.lower(),
        "status": fo.status.lower(),
        "supported_actions": [] if closed else [action.lower() for action in ACTIONS.get(fo.request_status, ())],
        "destination": {
            "first_name": address.first_name,
            "last_name": address.last_name,
            "address1": address.address1,
            "city": address.city,
            "province": address.province,
            "zip": address.zip,
            "country": address.country,
            "email": order.customer.email,
        },
        "line_items": [
            {
                "id": line.id,
                "shop_id": shopinfo.SHOP_ID,
                "fulfillment_order_id": fo.id,
                "line_item_id": line.line_item_id,
                "quantity": line.total_quantity,
                "fulfillable_quantity": line.remaining_quantity,
                "variant_id": item.variant_id if (item := order.line_item(line.line_item_id)) else None,
            }
            for line in fo.lines
        ],
        "fulfill_at": _time(fo.created_at),
        "fulfill_by": None,
        "international_duties": None,
        "fulfillment_holds": [],
        "delivery_method": {"method_type": "shipping"},
        "assigned_location": {"location_id": fo.location_id, "name": fo.location_name, "country_code": "CN"},
        "merchant_requests": [],
        "created_at": _time(fo.created_at),
        "updated_at": _time(fo.updated_at),
    }


def shop_resource(config: SandboxConfig) -> dict[str, Any]:
    address = shopinfo.ADDRESS
    return {
        "id": shopinfo.SHOP_ID,
        "name": shopinfo.shop_name(config),
        "email": shopinfo.shop_email(config),
        "customer_email": shopinfo.shop_email(config),
        "domain": config.shop_domain,
        "myshopify_domain": config.shop_domain,
        "shop_owner": "Sandbox Owner",
        "address1": address["address1"],
        "address2": address["address2"],
        "city": address["city"],
        "province": address["province"],
        "province_code": address["province_code"],
        "country": address["country_code"],
        "country_code": address["country_code"],
        "country_name": address["country"],
        "zip": address["zip"],
        "phone": address["phone"],
        "currency": config.shop_currency,
        "enabled_presentment_currencies": ["AUD", "CAD", "EUR", "GBP", "USD"],
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} " + config.shop_currency,
        "iana_timezone": "UTC",
        "timezone": "(GMT+00:00) UTC",
        "weight_unit": "kg",
        "taxes_included": False,
        "tax_shipping": None,
        "plan_name": shopinfo.REST_PLAN_NAMES[config.plan],
        "plan_display_name": shopinfo.PLAN_NAMES[config.plan],
        "has_storefront": True,
        "setup_required": False,
        "password_enabled": False,
        "created_at": _time(shopinfo.CREATED_AT),
        "updated_at": _time(shopinfo.CREATED_AT),
    }


def access_scopes() -> list[dict[str, str]]:
    return [{"handle": handle} for handle in shopinfo.ACCESS_SCOPES]


def order_events(state: ShopState, verb: str | None) -> list[dict[str, Any]]:
    """Order events the sandbox records: deletions (``destroy``), oldest first."""
    if verb not in (None, "destroy"):
        return []
    return [
        {
            "id": event_id,
            "subject_id": order_id,
            "subject_type": "Order",
            "verb": "destroy",
            "created_at": _time(at),
            "arguments": [name],
            "body": None,
            "message": f"Order {name} was deleted.",
            "author": "Shopify",
            "description": f"Order {name} was deleted.",
            "path": f"/admin/orders/{order_id}",
        }
        for event_id, at, order_id, name in state.deletion_log
    ]
