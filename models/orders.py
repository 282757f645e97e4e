"""The mirror of Shopify orders: orders, line items, fulfillment orders, refunds, transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, IdMixin, TimestampMixin
from models.types import JsonDocument, JsonType, MoneyType, UTCDateTime


class Order(IdMixin, TimestampMixin, Base):
    """A Shopify order as last seen. ``shopify_updated_at`` is the version: never move it backwards."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("uq_orders_shop_gid", "shop_id", "shopify_gid", unique=True),
        Index("ix_orders_shop_name", "shop_id", "name"),
        Index("ix_orders_shop_updated", "shop_id", "shopify_updated_at"),
        CheckConstraint("total_price >= 0", name="total_price_non_negative"),
        CheckConstraint("total_refunded >= 0", name="total_refunded_non_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    legacy_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64), nullable=False)

    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    presentment_currency: Mapped[str | None] = mapped_column(String(3))
    subtotal_price: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_price: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_tax: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_shipping: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_discounts: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_refunded: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_outstanding: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_received: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)

    display_financial_status: Mapped[str | None] = mapped_column(String(32))
    display_fulfillment_status: Mapped[str | None] = mapped_column(String(32))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    shopify_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    shopify_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list, nullable=False)
    note_attributes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)

    # PII: erased by customers/redact and shop/redact (redacted_at set, raw snapshot scrubbed).
    customer_gid: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    redacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    raw: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict, nullable=False)
    source: Mapped[str | None] = mapped_column(String(32))  # webhook | reconcile | backfill | action
    #: The version's webhook's X-Shopify-Triggered-At (source webhook): orders two webhooks of one second.
    webhook_triggered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mirrored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    line_items: Mapped[list[LineItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="LineItem.id"
    )
    fulfillment_orders: Mapped[list[FulfillmentOrder]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="FulfillmentOrder.id"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Refund.id"
    )
    transactions: Mapped[list[Transaction]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Transaction.id"
    )

    def __repr__(self) -> str:
        return f"<Order {self.name} {self.shopify_gid}>"


class LineItem(IdMixin, Base):
    __tablename__ = "line_items"
    __table_args__ = (
        Index("uq_line_items_order_gid", "order_id", "shopify_gid", unique=True),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("current_quantity >= 0", name="current_quantity_non_negative"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    variant_title: Mapped[str | None] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(255))
    variant_gid: Mapped[str | None] = mapped_column(String(100))
    product_gid: Mapped[str | None] = mapped_column(String(100))
    vendor: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    current_quantity: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    refundable_quantity: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    unfulfilled_quantity: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(MoneyType, nullable=False)
    total_discount: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    total_tax: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    requires_shipping: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    order: Mapped[Order] = relationship(back_populates="line_items")


class FulfillmentOrder(IdMixin, TimestampMixin, Base):
    """Shopify's unit of fulfilment work; ``request_status`` tracks the fulfillment service handshake."""

    __tablename__ = "fulfillment_orders"
    __table_args__ = (Index("uq_fulfillment_orders_order_gid", "order_id", "shopify_gid", unique=True),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    request_status: Mapped[str] = mapped_column(String(40), nullable=False)
    assigned_location: Mapped[str | None] = mapped_column(String(255))
    fulfillment_service_handle: Mapped[str | None] = mapped_column(String(255))
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    shopify_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="fulfillment_orders")


class Refund(IdMixin, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("uq_refunds_order_gid", "order_id", "shopify_gid", unique=True),
        CheckConstraint("total_refunded >= 0", name="total_refunded_non_negative"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    total_refunded: Mapped[Decimal] = mapped_column(MoneyType, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    refund_line_items: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    shopify_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)

    order: Mapped[Order] = relationship(back_populates="refunds")


class Transaction(IdMixin, Base):
    __tablename__ = "transactions"
    __table_args__ = (
        Index("uq_transactions_order_gid", "order_id", "shopify_gid", unique=True),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # AUTHORIZATION, CAPTURE, SALE, REFUND, VOID
    status: Mapped[str] = mapped_column(String(32), nullable=False)  # SUCCESS, PENDING, FAILURE, ERROR
    gateway: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(MoneyType, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    parent_gid: Mapped[str | None] = mapped_column(String(100))
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="transactions")
