"""Returns after shipment (Shopify's Returns API) and the evidence customers send with their requests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, IdMixin, TimestampMixin
from models.types import JsonType, MoneyType, UTCDateTime

RETURN_STATES = (
    "needs_approval", "shopify_action", "awaiting_goods", "needs_operator", "done", "declined", "denied", "canceled",
)  # fmt: skip
_STATES_SQL = ", ".join(f"'{s}'" for s in RETURN_STATES)


class ReturnCase(IdMixin, TimestampMixin, Base):
    """One return on one Shopify order, from the customer's request (or the operator's) to its refund.

    ``verdict`` is what dropsync decided to do with it on Shopify (approve or decline); ``policy_decision``
    the policy's decision as taken, with its version. ``shopify_gid`` is unique once the return exists on
    Shopify (a customer's request arrives with it; an operator's gets it when ``returnCreate`` succeeds).
    ``keep_item``: the customer keeps the goods (nothing is sent back; the refund follows approval at once).
    """

    __tablename__ = "returns"
    __table_args__ = (
        Index("uq_returns_shopify_gid", "shopify_gid", unique=True),
        Index("ix_returns_order_state", "order_id", "state"),
        CheckConstraint(f"state IN ({_STATES_SQL})", name="state_valid"),
        CheckConstraint("verdict IS NULL OR verdict IN ('approve', 'decline')", name="verdict_valid"),
        CheckConstraint("refund_total >= 0", name="refund_total_non_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    cancellation_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_requests.id", ondelete="SET NULL")
    )
    shopify_gid: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    shopify_status: Mapped[str | None] = mapped_column(String(16))  # REQUESTED | OPEN | CLOSED | DECLINED | CANCELED
    source: Mapped[str] = mapped_column(String(24), nullable=False)  # customer | operator | cancellation
    reason: Mapped[str] = mapped_column(String(40), nullable=False)  # the policy's reason
    shopify_reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    keep_item: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    state: Mapped[str] = mapped_column(String(24), nullable=False)
    verdict: Mapped[str | None] = mapped_column(String(16))
    state_history: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    policy_decision: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    refund_total: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    decline_reason: Mapped[str | None] = mapped_column(String(24))  # RETURN_PERIOD_ENDED | FINAL_SALE | OTHER
    decline_note: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    goods_received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_case", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )


class ReturnLine(IdMixin, Base):
    """One return line item: which order line, how many units, and how many Shopify shows processed."""

    __tablename__ = "return_line_items"
    __table_args__ = (
        Index("uq_return_line_items_pair", "return_id", "line_item_id", unique=True),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("processed_quantity >= 0 AND processed_quantity <= quantity", name="processed_within"),
    )

    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), nullable=False)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("line_items.id", ondelete="CASCADE"), nullable=False)
    shopify_gid: Mapped[str | None] = mapped_column(String(100))
    fulfillment_line_item_gid: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    processed_quantity: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    shopify_reason: Mapped[str | None] = mapped_column(String(40))
    customer_note: Mapped[str | None] = mapped_column(Text)

    return_case: Mapped[ReturnCase] = relationship(back_populates="lines")


class RequestEvidence(IdMixin, Base):
    """Evidence the customer sent with a cancellation request or a return (photos, video, tracking…).

    Exactly one of ``cancellation_request_id`` / ``return_id``; one row per kind per request.
    """

    __tablename__ = "request_evidence"
    __table_args__ = (
        Index("uq_request_evidence_cancellation_kind", "cancellation_request_id", "kind", unique=True),
        Index("uq_request_evidence_return_kind", "return_id", "kind", unique=True),
        Index("ix_request_evidence_order", "order_id"),
        CheckConstraint("(cancellation_request_id IS NULL) <> (return_id IS NULL)", name="exactly_one_request"),
        CheckConstraint("kind IN ('photos', 'video', 'tracking', 'correspondence')", name="kind_valid"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    cancellation_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_requests.id", ondelete="CASCADE")
    )
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    reference: Mapped[str | None] = mapped_column(Text)  # where it is: a file name, a link, a ticket
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
