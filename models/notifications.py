"""The notification outbox: one row per (alert, channel), written in the alert's own transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin
from models.types import UTCDateTime

NOTIFICATION_STATES = ("pending", "sending", "sent", "failed")


class Notification(IdMixin, Base):
    """An alert to deliver outside dropsync through one channel (``webhook``, ``email``).

    Unique per (alert, channel): however often an alert is raised, re-read or its task redelivered,
    there is one row, and a row marked ``sent`` is never sent again. ``sending`` with ``claimed_at``
    is a delivery in flight; one claimed longer ago than the stale limit died with its worker and is
    taken again (see ``worker.notify.delivery``).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("uq_notifications_alert_channel", "alert_id", "channel", unique=True),
        Index("ix_notifications_state_next", "state", "next_attempt_at"),
        CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name="state_valid"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
