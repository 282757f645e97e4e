"""Supplier orders on AliExpress, the Shopify line items they cover, disputes and deadline alerts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, IdMixin, TimestampMixin
from models.types import JsonType, MoneyType, SealedText, UTCDateTime


class SupplierOrder(IdMixin, TimestampMixin, Base):
    """An order the store placed with a supplier for (part of) a Shopify order.

    ``status`` is dropsync's own reading (see ``integrations.aliexpress.status``); the raw AliExpress
    values are kept beside it, and ``status_unknown`` flags a value the mapping did not recognise.
    """

    __tablename__ = "supplier_orders"
    __table_args__ = (
        Index("uq_supplier_orders_ref", "shop_id", "supplier", "supplier_order_id", unique=True),
        Index("ix_supplier_orders_next_poll", "next_poll_at"),
        Index("ix_supplier_orders_order", "order_id"),  # an order's supplier orders (linking, cancellations)
        CheckConstraint("amount_paid >= 0", name="amount_paid_non_negative"),
        CheckConstraint("amount_refunded >= 0", name="amount_refunded_non_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    supplier: Mapped[str] = mapped_column(String(32), default="aliexpress", nullable=False)
    supplier_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    seller_name: Mapped[str | None] = mapped_column(String(255))

    status: Mapped[str] = mapped_column(String(40), nullable=False)
    raw_status: Mapped[str | None] = mapped_column(String(64))
    raw_end_reason: Mapped[str | None] = mapped_column(String(64))
    raw_logistics_status: Mapped[str | None] = mapped_column(String(64))
    status_unknown: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    tracking_numbers: Mapped[list[str]] = mapped_column(JsonType, default=list, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)

    placed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    shipped_claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The seller refused the cancellation asked at ``cancel_requested_at`` (seen or recorded): from then
    #: on the 48 h silence rule does not apply (until a new request), and the advice is a dispute.
    cancel_refused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # Deadlines (computed in business days where the rule says so; see worker.deadlines).
    handling_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    tracking_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refund_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seller_silence_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    protection_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    protection_extended_days: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: The last moment a dispute can be opened for goods the store refunded after delivery (AliExpress:
    #: until N days after completion); set by the returns workflow when recovery is expected, else NULL.
    dispute_window_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When the latest refund asked this supplier order for recovery (the start of that window): a dispute
    #: recorded since covers it; one settled before was about earlier goods.
    recovery_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    currency: Mapped[str] = mapped_column(String(3), default="USD", nullable=False)
    amount_paid: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    amount_refunded: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)

    last_polled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # NULL: not polled (closed)
    poll_failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_poll_error: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[SupplierOrderItem]] = relationship(back_populates="supplier_order", cascade="all, delete-orphan")
    disputes: Mapped[list[Dispute]] = relationship(
        back_populates="supplier_order", cascade="all, delete-orphan", order_by="Dispute.id"
    )


class SupplierOrderItem(IdMixin, Base):
    """Which Shopify line items (and how many of each) one supplier order covers."""

    __tablename__ = "supplier_order_items"
    __table_args__ = (
        Index("uq_supplier_order_items_pair", "supplier_order_id", "line_item_id", unique=True),
        Index("ix_supplier_order_items_line_item", "line_item_id"),  # how much of a line is covered
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"), nullable=False)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("line_items.id", ondelete="CASCADE"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    supplier_order: Mapped[SupplierOrder] = relationship(back_populates="items")


class Dispute(IdMixin, TimestampMixin, Base):
    """A dispute opened on AliExpress (on the website; recorded here) and what it yielded."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint("refund_amount >= 0", name="refund_amount_non_negative"),
        Index("ix_disputes_supplier_order", "supplier_order_id"),  # the cross-checks of every mirrored batch
    )

    supplier_order_id: Mapped[int] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"), nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    state: Mapped[str] = mapped_column(String(20), default="open", nullable=False)  # open | resolved
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    seller_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))  # refunded | partly_refunded | rejected | withdrawn
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    refund_amount: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), default="USD", nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str | None] = mapped_column(String(100))

    supplier_order: Mapped[SupplierOrder] = relationship(back_populates="disputes")


class Alert(IdMixin, Base):
    """Something a person must act on. ``dedupe_key`` makes each alert fire once, not on every poll."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_open", "shop_id", "resolved_at", "due_at"),
        Index("ix_alerts_order", "order_id"),  # a mirrored batch's cross-check alerts, by its order ids
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    supplier_order_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), default="warning", nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The command that acts on it, when one does (``dropsync check`` shows it).
    command: Mapped[str | None] = mapped_column(String(255))


class AliExpressToken(Base):
    """The AliExpress access/refresh token pair as last refreshed by dropsync, per app key.

    The environment (``ALIEXPRESS_ACCESS_TOKEN``/``ALIEXPRESS_REFRESH_TOKEN``) seeds it; a refresh
    writes the new pair here at once (its own transaction: the gateway has already rotated it, losing it
    would break every later call). ``seeded_from`` is a fingerprint of the environment's access token the
    row descends from (never the token): when the environment changes (an operator re-authorised the
    app), the environment wins again. The tokens are sealed (``SealedText``).
    """

    __tablename__ = "aliexpress_tokens"

    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(SealedText, nullable=False)
    refresh_token: Mapped[str | None] = mapped_column(SealedText)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seeded_from: Mapped[str | None] = mapped_column(Text)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
