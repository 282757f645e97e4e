"""Shopify Payments disputes (chargebacks and inquiries) mirrored from Shopify, and their evidence packs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, TimestampMixin
from models.types import JsonType, MoneyType, UTCDateTime

DISPUTE_TYPES = ("CHARGEBACK", "INQUIRY")
DISPUTE_STATUSES = ("NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST", "ACCEPTED", "CHARGE_REFUNDED", "PREVENTED")
FINAL_STATUSES = ("WON", "LOST", "ACCEPTED", "CHARGE_REFUNDED", "PREVENTED")


class Chargeback(IdMixin, TimestampMixin, Base):
    """One Shopify Payments dispute (``ShopifyPaymentsDispute``) as last seen, linked to its order.

    ``order_id`` is NULL while the order is not mirrored yet (a ``disputes/create`` may arrive first); the
    mirror links it when the order arrives. ``fee`` is the chargeback fee the store expects to pay
    (``DROPSYNC_CHARGEBACK_FEE`` when the dispute became a chargeback; 0 for an inquiry). A dispute has no
    version: it only moves forward (NEEDS_RESPONSE → UNDER_REVIEW → a final status; INQUIRY → CHARGEBACK;
    dates only ever set), so the mirror merges monotonically and a late or replayed webhook changes nothing.
    """

    __tablename__ = "chargebacks"
    __table_args__ = (
        Index("uq_chargebacks_dispute", "shop_id", "dispute_gid", unique=True),
        Index("ix_chargebacks_order", "order_id"),
        Index("ix_chargebacks_status_due", "status", "evidence_due_by"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("fee >= 0", name="fee_non_negative"),
        CheckConstraint("dispute_type IN ('CHARGEBACK', 'INQUIRY')", name="type_valid"),
        CheckConstraint(
            "status IN ('NEEDS_RESPONSE', 'UNDER_REVIEW', 'WON', 'LOST', 'ACCEPTED', 'CHARGE_REFUNDED', 'PREVENTED')",
            name="status_valid",
        ),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_gid: Mapped[str | None] = mapped_column(String(100))
    dispute_gid: Mapped[str] = mapped_column(String(100), nullable=False)
    legacy_id: Mapped[int | None] = mapped_column(BigInteger)
    evidence_gid: Mapped[str | None] = mapped_column(String(100))

    dispute_type: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    network_reason_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MoneyType, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    fee: Mapped[Decimal] = mapped_column(MoneyType, default=Decimal(0), nullable=False)

    initiated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evidence_due_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evidence_sent_on: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finalized_on: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evidence_submitted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The order's fulfillments as Shopify attaches them to the evidence (carrier, tracking, shipping date).
    shopify_fulfillments: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    last_read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # AliExpress tracking of the order's supplier parcels (aliexpress.ds.order.tracking.get) as read for this
    # dispute: carrier, number and every carrier event (worker.chargebacks.tracking.ParcelTracking).
    supplier_tracking: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    supplier_tracking_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # The evidence pack as last built (worker.chargebacks.evidence.Pack.to_dict) and who submitted it.
    pack: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    pack_built_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    #: A person's own words for the bank (``dropsync chargebacks evidence --text``), sent with the pack.
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def number(self) -> str:
        """The numeric end of the dispute's GID: how messages name it, and what ``--dispute`` takes."""
        return self.dispute_gid.rsplit("/", 1)[-1]
