"""An order (and a return) in the ledger's terms, as the control plane shows it and the fulfillment steps
return it.

Its own module so that control.py and mutations/fulfillment.py both use it without importing each
other (control → mutations.fulfillment → control was an import cycle).
"""

from __future__ import annotations

from typing import Any

from sandboxes.shopify import ledger
from sandboxes.shopify.model import Order, Return, gid
from sandboxes.shopify.returns import order_return_status
from sandboxes.shopify.views.base import amount


def order_snapshot(order: Order) -> dict[str, Any]:
    """The order in the ledger's terms (models/orders.py column names; money as strings, shop currency)."""
    attributes = dict(order.note_attributes)
    financial, fulfillment = ledger.financial_status(order), ledger.fulfillment_status(order)
    return {
        "id": gid("Order", order.id),
        "legacy_id": order.id,
        "name": order.name,
        "created_at": order.created_at.isoformat(),
        "processed_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "cancel_reason": order.cancel_reason,
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "display_financial_status": financial,
        "display_fulfillment_status": fulfillment,
        "currency": order.currency,
        "presentment_currency": order.presentment_currency,
        **_money(order),
        "refund_count": len(order.refunds),
        "return_status": order_return_status(order),
        "returns": [{"id": gid("Return", r.id), "status": r.status, "name": r.name} for r in order.returns],
        "tags": list(order.tags),
        "note_attributes": attributes,
        "aliexpress_order_id": attributes.get("aliexpress_order_id"),
        "line_items": [_line(order, item) for item in order.line_items],
        "fulfillment_orders": [
            {"id": gid("FulfillmentOrder", fo.id), "status": fo.status, "request_status": fo.request_status}
            for fo in order.fulfillment_orders
        ],
        "fulfillments": [
            {
                "id": gid("Fulfillment", f.id),
                "status": f.status,
                "tracking_number": f.tracking_number,
                "line_items": [
                    {"id": gid("FulfillmentLineItem", fli), "line_item_id": gid("LineItem", item), "quantity": q}
                    for fli, item, q in f.lines
                ],
            }
            for f in order.fulfillments
        ],
        "refunds": [
            {"id": gid("Refund", r.id), "total": amount(r.total().shop), "lines": len(r.lines)} for r in order.refunds
        ],
        "transactions": [
            {
                "id": gid("OrderTransaction", t.id),
                "kind": t.kind,
                "status": t.status,
                "amount": amount(t.amount.shop),
                "parent_id": gid("OrderTransaction", t.parent_id) if t.parent_id else None,
            }
            for t in order.transactions + [t for r in order.refunds for t in r.transactions]
        ],
    }


def return_snapshot(order: Order, found: Return) -> dict[str, Any]:
    return {
        "id": gid("Return", found.id),
        "name": found.name,
        "order_id": gid("Order", order.id),
        "status": found.status,
        "decline": {"reason": found.decline_reason, "note": found.decline_note} if found.decline_reason else None,
        "total_quantity": found.total_quantity,
        "line_items": [
            {
                "id": gid("ReturnLineItem", line.id),
                "fulfillment_line_item_id": gid("FulfillmentLineItem", line.fulfillment_line_item_id),
                "line_item_id": gid("LineItem", line.line_item_id),
                "quantity": line.quantity,
                "processed_quantity": line.processed_quantity,
                "refunded_quantity": line.refunded_quantity,
                "reason": line.reason,
            }
            for line in found.lines
        ],
        "refunds": [
            {"id": gid("Refund", r.id), "total": amount(r.total().shop)}
            for r in order.refunds
            if r.return_id == found.id
        ],
    }


def _money(order: Order) -> dict[str, str]:
    return {
        "subtotal_price": amount(ledger.subtotal(order).shop),
        "total_price": amount(ledger.total_price(order).shop),
        "total_tax": amount(ledger.total_tax(order).shop),
        "total_shipping": amount(order.shipping_price.shop),
        "total_discounts": amount(ledger.total_discounts(order).shop),
        "total_received": amount(ledger.received(order).shop),
        "total_refunded": amount(ledger.refunded(order).shop),
        "total_outstanding": amount(ledger.outstanding(order).shop),
    }


def _line(order: Order, item: Any) -> dict[str, Any]:
    return {
        "id": gid("LineItem", item.id),
        "sku": item.sku,
        "quantity": item.quantity,
        "current_quantity": ledger.current_quantity(order, item),
        "refunded_quantity": ledger.refunded_quantity(order, item),
        "fulfilled_quantity": ledger.fulfilled_quantity(order, item),
    }
