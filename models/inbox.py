"""The webhook inbox and the task outbox: how external events get in and tasks get out, exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin
from models.types import JsonType, UTCDateTime, utcnow

_PENDING = text("handled_at IS NULL")


class WebhookDelivery(IdMixin, Base):
    """One Shopify webhook delivery, stored before we answer 2xx.

    ``delivery_id`` is ``X-Shopify-Webhook-Id``: a retry of the same delivery is dropped by the unique
    index (``ON CONFLICT DO NOTHING``). ``handled_at`` is set in the same transaction as the effects.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        Index("ix_webhook_inbox_unhandled", "handled_at", "received_at"),
        # The drain's claim (unhandled, oldest id first): without it, each batch sorted every unhandled row.
        Index("ix_webhook_inbox_pending", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    api_version: Mapped[str | None] = mapped_column(String(16))
    triggered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The raw body exactly as received (UTF-8 JSON text): re-verifiable against its HMAC, and storing text
    # instead of JSONB keeps the accept path cheap (the drain parses it once).
    body: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def payload(self) -> dict[str, Any]:
        """The parsed body (a JSON object: the receiver refuses anything else)."""
        cached: dict[str, Any] | None = self.__dict__.get("_payload")
        if cached is None:
            cached = orjson.loads(self.body)
            self.__dict__["_payload"] = cached
        return cached


class OutboxMessage(IdMixin, Base):
    """A Celery task to publish, written in the same transaction as the row it is about.

    Publishing inside a transaction races the commit (the task may run before the row exists, or the
    message is lost if the process dies after commit); the relay publishes committed rows instead.
    """

    __tablename__ = "task_outbox"
    __table_args__ = (Index("ix_task_outbox_unpublished", "published_at", "id"),)

    task_name: Mapped[str] = mapped_column(String(100), nullable=False)
    args: Mapped[list[Any]] = mapped_column(JsonType, default=list, nullable=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
