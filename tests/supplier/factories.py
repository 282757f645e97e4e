"""Ledger rows for supplier tests: a shop, a mirrored Shopify order with line items."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from models import LineItem, Order, Shop
from worker.deadlines.calendar import BusinessCalendar
from worker.deadlines.rules import DeadlinePolicy
from worker.supplier.service import Context

_seq = itertools.count(1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # Monday, the sandbox clock's start


def make_shop(session: Session) -> Shop:
    shop = Shop(domain=f"test-{next(_seq)}-{id(session)}.myshopify.com")
    session.add(shop)
    session.flush()
    return shop


def make_order(
    session: Session,
    shop: Shop | None = None,
    *,
    lines: list[tuple[str, int]] | None = None,
    note_attributes: object = None,
    tags: list[str] | None = None,
    currency: str = "USD",
) -> Order:
    shop = shop or make_shop(session)
    n = next(_seq)
    order = Order(
        shop_id=shop.id,
        shopify_gid=f"gid://shopify/Order/{9000 + n}",
        legacy_id=9000 + n,
        name=f"#{1000 + n}",
        currency=currency,
        total_price=Decimal("50.00"),
        shopify_created_at=T0,
        shopify_updated_at=T0,
        tags=tags or [],
        note_attributes=note_attributes if note_attributes is not None else {},
    )
    for i, (title, qty) in enumerate(lines or [("Phone case", 2), ("Cable", 1)], start=1):
        order.line_items.append(
            LineItem(
                shopify_gid=f"gid://shopify/LineItem/{n * 100 + i}",
                title=title,
                sku=f"SKU-{title.upper().replace(' ', '-')}",
                quantity=qty,
                current_quantity=qty,
                unit_price=Decimal("10.00"),
            )
        )
    session.add(order)
    session.flush()
    return order


def ctx(country: str = "US", timezone: str = "UTC", **policy: object) -> Context:
    return Context(BusinessCalendar(country, timezone), DeadlinePolicy(**policy))  # type: ignore[arg-type]
