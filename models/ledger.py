"""Money ledger entries and the append-only per-order timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin
from models.types import JsonType, MoneyType, UTCDateTime, utcnow

LEDGER_KINDS = ("customer_payment", "customer_refund", "supplier_payment", "supplier_refund")


class LedgerEntry(IdMixin, Base):
    """A movement of money, derived from a source that can be named exactly once.

    ``source_ref`` (e.g. ``shopify:transaction:gid://shopify/OrderTransaction/1``) is unique, so
    re-applying a snapshot or replaying a webhook can never count the same money twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_order", "order_id", "kind"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "kind IN ('customer_payment', 'customer_refund', 'supplier_payment', 'supplier_refund')",
            name="kind_valid",
        ),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    supplier_order_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_orders.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MoneyType, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    source_ref: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)


class TimelineEvent(IdMixin, Base):
    """One thing that happened to an order (or a supplier order), in words and data. Append-only."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_events_order", "order_id", "id"),
        Index("ix_timeline_events_supplier_order", "supplier_order_id", "id"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    supplier_order_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), default="system", nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
