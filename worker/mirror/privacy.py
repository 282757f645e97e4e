"""Shopify's mandatory privacy topics: erase a customer's (or a whole shop's) PII from the ledger.

What is erased: the order's email, phone, customer name and id, shipping address, and the same keys
anywhere in the stored raw snapshots (orders and their supplier orders). Money, statuses and the timeline
stay: they hold no PII and the books must still add up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Order, Shop, SupplierOrder
from models.types import utcnow

PII_KEYS = frozenset(
    {
        "email", "contact_email", "phone", "customer", "shipping_address", "billing_address", "browser_ip",
        "client_details", "customer_locale", "note", "shippingAddress", "billingAddress", "displayName",
        "first_name", "last_name", "firstName", "lastName", "address1", "address2", "zip", "name_on_card",
        "receiver_name", "receiver_phone", "receiver_address", "buyer_login_id",
    }
)  # fmt: skip


def scrub(value: Any) -> Any:
    """A copy of a JSON value with every PII key removed, at any depth."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in PII_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def erase_order(session: Session, order: Order) -> None:
    order.email = order.phone = order.customer_name = order.customer_gid = None
    order.shipping_address = None
    order.raw = scrub(order.raw)
    order.redacted_at = utcnow()
    for supplier_order in session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)):
        supplier_order.raw = scrub(supplier_order.raw)


def orders_of_customer(session: Session, shop_id: int, payload: dict[str, Any]) -> list[Order]:
    customer = payload.get("customer") or {}
    conditions = []
    if customer.get("id") is not None:
        conditions.append(Order.customer_gid == f"gid://shopify/Customer/{customer['id']}")
    if customer.get("email"):
        conditions.append(Order.email == customer["email"])
    ids = [f"gid://shopify/Order/{i}" for i in payload.get("orders_to_redact") or []]
    if ids:
        conditions.append(Order.shopify_gid.in_(ids))
    if not conditions:
        return []
    return list(session.scalars(select(Order).where(Order.shop_id == shop_id, or_(*conditions))))


def redact_customer(session: Session, shop_id: int, payload: dict[str, Any]) -> int:
    orders = orders_of_customer(session, shop_id, payload)
    for order in orders:
        erase_order(session, order)
    session.flush()
    return len(orders)


def redact_shop(session: Session, shop_id: int) -> int:
    """48 hours after uninstall Shopify asks us to erase the shop's customer data; the shop is deactivated."""
    orders = list(session.scalars(select(Order).where(Order.shop_id == shop_id)))
    for order in orders:
        erase_order(session, order)
    shop = session.get(Shop, shop_id)
    if shop is not None:
        shop.redacted_at, shop.active, shop.access_token = utcnow(), False, None
    session.flush()
    return len(orders)
