"""Ledger rows for policy adapter and CLI tests: a mirrored order with two lines and supplier orders."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from models import FulfillmentOrder, LineItem, Order, Shop, SupplierOrder, SupplierOrderItem

D = Decimal
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def make_order(session: Session, **changes: Any) -> Order:
    """2 × 20.00 (2.00 discount, 3.00 tax) + 1 × 10.00, shipping 5.00: 56.00 received."""
    tag = uuid.uuid4().hex[:10]
    shop = Shop(domain=f"policy-{tag}.myshopify.com")
    session.add(shop)
    session.flush()
    values: dict[str, Any] = {
        "shop_id": shop.id,
        "shopify_gid": f"gid://shopify/Order/{int(tag, 16) % 10**12}",
        "name": f"#P{tag}",
        "currency": "USD",
        "total_price": D("56.00"),
        "total_received": D("56.00"),
        "total_shipping": D("5.00"),
        "shopify_created_at": NOW - dt.timedelta(days=2),
        "shopify_updated_at": NOW - dt.timedelta(days=2),
    }
    values.update(changes)
    order = Order(**values)
    order.line_items.append(
        LineItem(
            shopify_gid=f"gid://shopify/LineItem/{tag}1",
            title="T-shirt",
            sku=f"TEE-{tag}",
            quantity=2,
            current_quantity=2,
            refundable_quantity=2,
            unit_price=D("20.00"),
            total_discount=D("2.00"),
            total_tax=D("3.00"),
        )
    )
    order.line_items.append(
        LineItem(
            shopify_gid=f"gid://shopify/LineItem/{tag}2",
            title="Mug",
            sku=f"MUG-{tag}",
            quantity=1,
            current_quantity=1,
            refundable_quantity=1,
            unit_price=D("10.00"),
        )
    )
    session.add(order)
    session.flush()
    return order


def add_fulfillment_order(session: Session, order: Order, request_status: str, status: str = "OPEN") -> None:
    session.add(
        FulfillmentOrder(
            order_id=order.id,
            shopify_gid=f"gid://shopify/FulfillmentOrder/{uuid.uuid4().int % 10**12}",
            status=status,
            request_status=request_status,
        )
    )
    session.flush()
    session.refresh(order)


def add_supplier_order(
    session: Session, order: Order, status: str, *, items: dict[int, int] | None = None, **changes: Any
) -> SupplierOrder:
    values: dict[str, Any] = {
        "shop_id": order.shop_id,
        "order_id": order.id,
        "supplier_order_id": uuid.uuid4().hex[:16],
        "seller_name": "Acme Store",
        "status": status,
        "amount_paid": D("20.00"),
        "currency": "USD",
        "paid_at": NOW - dt.timedelta(days=2),
    }
    values.update(changes)
    supplier_order = SupplierOrder(**values)
    session.add(supplier_order)
    session.flush()
    for line_id, quantity in (items or {}).items():
        session.add(SupplierOrderItem(supplier_order_id=supplier_order.id, line_item_id=line_id, quantity=quantity))
    session.flush()
    return supplier_order
