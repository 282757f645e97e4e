"""Webhook bodies shaped like Shopify's REST JSON (orders, refunds, fulfillment orders, bulk operations).

Money is a string with two decimals (``"12.50"``), ids are numbers, times are ISO-8601 with an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ledger
from sandboxes.shopify.model import (
    Fulfillment,
    FulfillmentOrder,
    LineItem,
    Order,
    Pair,
    Refund,
    Return,
    Transaction,
    gid,
)
from sandboxes.shopify.views.address import address_dict
from sandboxes.shopify.views.base import amount

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def price_set(pair: Pair, order: Order) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount(pair.shop), "currency_code": order.currency},
        "presentment_money": {"amount": amount(pair.presentment), "currency_code": order.presentment_currency},
    }


def order_json(state: ShopState, order: Order) -> dict[str, Any]:
    """The ``orders/*`` webhook body."""
    total, subtotal, tax = ledger.total_price(order), ledger.subtotal(order), ledger.total_tax(order)
    discounts = ledger.total_discounts(order)
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": order.name,
        "order_number": order.number,
        "email": order.customer.email,
        "phone": order.customer.phone,
        "created_at": _time(order.created_at),
        "updated_at": _time(order.updated_at),
        "processed_at": _time(order.created_at),
        "cancelled_at": _time(order.cancelled_at),
        "cancel_reason": order.cancel_reason.lower() if order.cancel_reason else None,
        "closed_at": _time(order.closed_at),
        "currency": order.currency,
        "presentment_currency": order.presentment_currency,
        "total_price": amount(total.shop),
        "subtotal_price": amount(subtotal.shop),
        "total_tax": amount(tax.shop),
        "total_discounts": amount(discounts.shop),
        "current_total_price": amount(ledger.current_total(order).shop),
        "total_price_set": price_set(total, order),
        "subtotal_price_set": price_set(subtotal, order),
        "total_tax_set": price_set(tax, order),
        "total_discounts_set": price_set(discounts, order),
        "total_shipping_price_set": price_set(order.shipping_price, order),
        "total_outstanding": amount(ledger.outstanding(order).shop),
        "financial_status": ledger.financial_status(order).lower(),
        "fulfillment_status": ledger.rest_fulfillment_status(order),
        "tags": ", ".join(order.tags),
        "note": order.note,
        "note_attributes": [{"name": key, "value": value} for key, value in order.note_attributes],
        "discount_codes": [
            {"code": code, "type": "percentage", "amount": amount(discounts.shop)} for code in order.discount_codes
        ],
        "gateway": order.transactions[0].gateway if order.transactions else None,
        "payment_gateway_names": sorted({t.gateway for t in order.transactions}),
        "source_name": order.source_name,
        "test": True,
        "customer": _customer(order),
        "shipping_address": _rest_address(order),
        "billing_address": _rest_address(order),
        "shipping_lines": [_shipping_line(order)],
        "line_items": [line_item_json(order, item) for item in order.line_items],
        "fulfillments": [fulfillment_json(order, f) for f in order.fulfillments],
        "refunds": [refund_json(order, r) for r in order.refunds],
    }


def _customer(order: Order) -> dict[str, Any]:
    customer = order.customer
    return {
        "id": customer.id,
        "admin_graphql_api_id": gid("Customer", customer.id),
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
    }


def _rest_address(order: Order) -> dict[str, Any]:
    data = address_dict(order)
    return {
        "first_name": data["firstName"],
        "last_name": data["lastName"],
        "name": data["name"],
        "address1": data["address1"],
        "address2": None,
        "city": data["city"],
        "province": data["province"],
        "province_code": data["provinceCode"],
        "country": data["country"],
        "country_code": data["countryCode"],
        "zip": data["zip"],
        "phone": data["phone"],
        "company": None,
    }


def _shipping_line(order: Order) -> dict[str, Any]:
    return {
        "title": order.shipping_title,
        "code": order.shipping_title,
        "price": amount(order.shipping_price.shop),
        "price_set": price_set(order.shipping_price, order),
        "source": "shopify",
    }


def line_item_json(order: Order, item: LineItem) -> dict[str, Any]:
    shipped = ledger.fulfilled_quantity(order, item)
    return {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "title": item.title,
        "variant_title": item.variant_title,
        "name": f"{item.title} - {item.variant_title}",
        "sku": item.sku,
        "vendor": item.vendor,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "quantity": item.quantity,
        "current_quantity": ledger.current_quantity(order, item),
        "fulfillable_quantity": ledger.unfulfilled_quantity(order, item),
        "fulfillment_status": "fulfilled" if shipped >= item.quantity else ("partial" if shipped else None),
        "fulfillment_service": "aliexpress-dropshipping",
        "requires_shipping": item.requires_shipping,
        "taxable": item.tax_rate > 0,
        "price": amount(item.unit_price.shop),
        "price_set": price_set(item.unit_price, order),
        "total_discount": amount(item.discount.shop),
        "total_discount_set": price_set(item.discount, order),
        "tax_lines": [
            {
                "title": "Tax",
                "rate": float(item.tax_rate),
                "price": amount(item.tax.shop),
                "price_set": price_set(item.tax, order),
            }
        ],
        "properties": [],
    }


def fulfillment_json(order: Order, fulfillment: Fulfillment) -> dict[str, Any]:
    return {
        "id": fulfillment.id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "order_id": order.id,
        "name": fulfillment.name,
        "status": fulfillment.status.lower(),
        "created_at": _time(fulfillment.created_at),
        "updated_at": _time(fulfillment.updated_at),
        "tracking_company": fulfillment.tracking_company,
        "tracking_number": fulfillment.tracking_number,
        "tracking_numbers": [fulfillment.tracking_number] if fulfillment.tracking_number else [],
        "tracking_url": fulfillment.tracking_url,
        "tracking_urls": [fulfillment.tracking_url] if fulfillment.tracking_url else [],
        "shipment_status": fulfillment.display_status.lower(),
        "line_items": [
            {**line_item_json(order, item), "quantity": quantity}
            for (_, line_id, quantity) in fulfillment.lines
            if (item := order.line_item(line_id)) is not None
        ],
    }


def transaction_json(order: Order, transaction: Transaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "admin_graphql_api_id": gid("OrderTransaction", transaction.id),
        "order_id": order.id,
        "kind": transaction.kind.lower(),
        "status": transaction.status.lower(),
        "gateway": transaction.gateway,
        "amount": amount(transaction.amount.shop),
        "currency": order.currency,
        "parent_id": transaction.parent_id,
        "created_at": _time(transaction.created_at),
        "processed_at": _time(transaction.created_at),
        "test": transaction.test,
    }


def refund_json(order: Order, refund: Refund) -> dict[str, Any]:
    """The ``refunds/create`` body (also each element of an order's ``refunds``)."""
    return {
        "id": refund.id,
        "admin_graphql_api_id": gid("Refund", refund.id),
        "order_id": order.id,
        "created_at": _time(refund.created_at),
        "processed_at": _time(refund.created_at),
        "note": refund.note,
        "restock": any(line.restock_type in ("CANCEL", "RETURN") for line in refund.lines),
        "total_refunded_set": price_set(refund.total(), order),
        "transactions": [transaction_json(order, t) for t in refund.transactions],
        "refund_line_items": [
            {
                "id": line.id,
                "line_item_id": line.line_item_id,
                "quantity": line.quantity,
                "restock_type": line.restock_type.lower(),
                "subtotal": amount(line.subtotal.shop),
                "subtotal_set": price_set(line.subtotal, order),
                "total_tax": amount(line.tax.shop),
                "total_tax_set": price_set(line.tax, order),
                "line_item": line_item_json(order, item),
            }
            for line in refund.lines
            if (item := order.line_item(line.line_item_id)) is not None
        ],
        "order_adjustments": [],
        "refund_shipping_lines": [],
        "return": (
            {"id": refund.return_id, "admin_graphql_api_id": gid("Return", refund.return_id)}
            if refund.return_id is not None
            else None
        ),
        "shipping": {"amount": amount(refund.shipping.shop)},
    }


def fulfillment_order_json(
    order: Order, fo: FulfillmentOrder, key: str = "fulfillment_order", **extra: Any
) -> dict[str, Any]:
    """``fulfillment_orders/*`` bodies: ``{"fulfillment_order": {...}, "message": ...}`` like Shopify's
    (``fulfillment_request_submitted`` names it ``original_fulfillment_order``); statuses in snake case."""
    body: dict[str, Any] = {
        key: {
            "id": gid("FulfillmentOrder", fo.id),
            "status": fo.status.lower(),
            "request_status": fo.request_status.lower(),
            "order_id": gid("Order", order.id),
            "assigned_location_id": gid("Location", fo.location_id),
        }
    }
    body.update(extra)
    return body


def return_json(order: Order, found: Return) -> dict[str, Any]:
    """``returns/*`` bodies: the return in REST shape (numeric ids beside ``admin_graphql_api_id``,
    lowercase status and reasons), its line items with quantities and its decline."""
    lines = [
        {
            "id": line.id,
            "admin_graphql_api_id": gid("ReturnLineItem", line.id),
            "fulfillment_line_item": {
                "id": line.fulfillment_line_item_id,
                "admin_graphql_api_id": gid("FulfillmentLineItem", line.fulfillment_line_item_id),
                "line_item": {"id": line.line_item_id, "admin_graphql_api_id": gid("LineItem", line.line_item_id)},
            },
            "quantity": line.quantity,
            "processed_quantity": line.processed_quantity,
            "refunded_quantity": line.refunded_quantity,
            "return_reason": line.reason.lower(),
            "return_reason_note": line.reason_note,
            "customer_note": line.customer_note,
            "restocking_fee": (
                {"percentage": line.restocking_fee_percentage} if line.restocking_fee_percentage is not None else None
            ),
        }
        for line in found.lines
    ]
    fees = (
        []
        if found.shipping_fee is None
        else [{"id": found.shipping_fee_id, "price_set": price_set(found.shipping_fee, order)}]
    )
    return {
        "id": found.id,
        "admin_graphql_api_id": gid("Return", found.id),
        "name": found.name,
        "status": found.status.lower(),
        "order": {"id": order.id, "admin_graphql_api_id": gid("Order", order.id)},
        "created_at": _time(found.created_at),
        "updated_at": _time(found.updated_at),
        "closed_at": _time(found.closed_at),
        "total_return_line_items": len(found.lines),
        "total_return_line_items_quantity": found.total_quantity,
        "return_line_items": lines,
        "decline": (
            {"reason": found.decline_reason.lower(), "note": found.decline_note} if found.decline_reason else None
        ),
        "refunds": [
            {"id": refund.id, "admin_graphql_api_id": gid("Refund", refund.id)}
            for refund in order.refunds
            if refund.return_id == found.id
        ],
        "return_shipping_fees": fees,
        "exchange_line_items": [],
        "total_exchange_line_items": 0,
    }


SHOP_ID = 60_000_000_001


def privacy_json(shop_domain: str, topic: str, order: Order | None, serial: int) -> dict[str, Any]:
    """Bodies of the mandatory privacy topics, shaped like Shopify's."""
    body: dict[str, Any] = {"shop_id": SHOP_ID, "shop_domain": shop_domain}
    if order is None or topic == "shop/redact":
        return body
    customer = {"id": order.customer.id, "email": order.customer.email, "phone": order.customer.phone}
    if topic == "customers/redact":
        return {**body, "customer": customer, "orders_to_redact": [order.id]}
    return {**body, "customer": customer, "orders_requested": [order.id], "data_request": {"id": 9_000 + serial}}
