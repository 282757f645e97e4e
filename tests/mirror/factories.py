"""Order payloads as Shopify sends them: REST webhook JSON and GraphQL ``OrderFields`` nodes."""

from __future__ import annotations

from typing import Any


def rest_order(
    number: int = 1, updated_at: str = "2026-11-01T10:00:00Z", *, financial: str = "paid",
    fulfillment: str | None = None, cancelled_at: str | None = None, refunds: list[dict[str, Any]] | None = None,
    note_attributes: list[dict[str, str]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    oid = 5000 + number
    return {
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": f"#{1000 + number}",
        "email": f"buyer{number}@example.com",
        "phone": "+15555550100",
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": updated_at,
        "processed_at": "2026-11-01T09:00:00Z",
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "closed_at": None,
        "currency": "USD",
        "presentment_currency": "EUR",
        "subtotal_price": "50.00",
        "total_price": "59.00",
        "total_tax": "4.00",
        "total_discounts": "0.00",
        "total_outstanding": "0.00",
        "total_shipping_price_set": {
            "shop_money": {"amount": "5.00", "currency_code": "USD"},
            "presentment_money": {"amount": "4.60", "currency_code": "EUR"},
        },
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "tags": "vip, dropship",
        "note_attributes": note_attributes or [],
        "test": False,
        "customer": {
            "id": 77,
            "admin_graphql_api_id": "gid://shopify/Customer/77",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"buyer{number}@example.com",
        },
        "shipping_address": {"name": "Ada Lovelace", "address1": "1 Main St", "city": "Springfield"},
        "line_items": [
            {
                "id": oid * 10 + i,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{oid * 10 + i}",
                "title": f"Widget {i}",
                "variant_title": "Blue",
                "sku": f"W-{i}",
                "vendor": "ACME",
                "quantity": 1,
                "current_quantity": 1,
                "fulfillable_quantity": 1,
                "price": "25.00",
                "total_discount": "0.00",
                "tax_lines": [{"price": "2.00", "rate": 0.08}],
                "variant_id": 900 + i,
                "product_id": 800 + i,
                "requires_shipping": True,
            }
            for i in (1, 2)
        ],
        "refunds": refunds or [],
        "fulfillments": [],
    }


def rest_refund(number: int, refund_id: int, amount: str, line_item_index: int = 1) -> dict[str, Any]:
    oid = 5000 + number
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "created_at": "2026-11-02T09:00:00Z",
        "note": "customer changed mind",
        "refund_line_items": [
            {"id": 1, "line_item_id": oid * 10 + line_item_index, "quantity": 1, "restock_type": "cancel"}
        ],
        "transactions": [
            {
                "id": refund_id * 10,
                "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{refund_id * 10}",
                "kind": "refund",
                "status": "success",
                "amount": amount,
                "currency": "USD",
                "gateway": "bogus",
                "parent_id": oid * 100,
                "processed_at": "2026-11-02T09:00:00Z",
            }
        ],
    }


def _money(amount: str) -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": "USD"},
        "presentmentMoney": {"amount": amount, "currencyCode": "EUR"},
    }


def graphql_order(
    number: int = 1, updated_at: str = "2026-11-01T10:00:00Z", *, financial: str = "PAID",
    fulfillment: str = "UNFULFILLED", refunded: str = "0.00", received: str = "59.00",
) -> dict[str, Any]:  # fmt: skip
    oid = 5000 + number
    return {
        "id": f"gid://shopify/Order/{oid}", "legacyResourceId": str(oid), "name": f"#{1000 + number}",
        "createdAt": "2026-11-01T09:00:00Z", "updatedAt": updated_at, "processedAt": "2026-11-01T09:00:00Z",
        "closedAt": None, "cancelledAt": None, "cancelReason": None, "test": False, "tags": ["vip", "dropship"],
        "email": f"buyer{number}@example.com", "phone": "+15555550100",
        "customer": {"id": "gid://shopify/Customer/77", "displayName": "Ada Lovelace"},
        "shippingAddress": {"name": "Ada Lovelace", "address1": "1 Main St", "city": "Springfield"},
        "customAttributes": [], "currencyCode": "USD", "presentmentCurrencyCode": "EUR",
        "subtotalPriceSet": _money("50.00"), "totalPriceSet": _money("59.00"), "totalTaxSet": _money("4.00"),
        "totalShippingPriceSet": _money("5.00"), "totalDiscountsSet": _money("0.00"),
        "totalRefundedSet": _money(refunded), "totalOutstandingSet": _money("0.00"),
        "totalReceivedSet": _money(received), "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfillment,
        "lineItems": {"pageInfo": {"hasNextPage": False}, "nodes": [
            {
                "id": f"gid://shopify/LineItem/{oid * 10 + i}", "title": f"Widget {i}", "variantTitle": "Blue",
                "sku": f"W-{i}", "vendor": "ACME", "quantity": 1, "currentQuantity": 1, "refundableQuantity": 1,
                "unfulfilledQuantity": 1, "requiresShipping": True, "originalUnitPriceSet": _money("25.00"),
                "totalDiscountSet": _money("0.00"), "taxLines": [{"priceSet": _money("2.00")}],
                "variant": {"id": f"gid://shopify/ProductVariant/{900 + i}"},
                "product": {"id": f"gid://shopify/Product/{800 + i}"},
            }
            for i in (1, 2)
        ]},
        "fulfillmentOrders": {"pageInfo": {"hasNextPage": False}, "nodes": [
            {
                "id": f"gid://shopify/FulfillmentOrder/{oid}", "status": "OPEN", "requestStatus": "UNSUBMITTED",
                "updatedAt": updated_at, "assignedLocation": {"name": "AliExpress Fulfillment"},
                "lineItems": {"nodes": [
                    {"id": f"gid://shopify/FulfillmentOrderLineItem/{oid}{i}", "totalQuantity": 1,
                     "remainingQuantity": 1, "lineItem": {"id": f"gid://shopify/LineItem/{oid * 10 + i}"}}
                    for i in (1, 2)
                ]},
            }
        ]},
        "refunds": [],
        "transactions": [
            {
                "id": f"gid://shopify/OrderTransaction/{oid * 100}", "kind": "SALE", "status": "SUCCESS",
                "gateway": "bogus", "amountSet": _money("59.00"), "parentTransaction": None,
                "processedAt": "2026-11-01T09:00:01Z",
            }
        ],
    }  # fmt: skip
