"""Shops: every ledger row is scoped by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, TimestampMixin
from models.types import SealedText, UTCDateTime


class Shop(IdMixin, TimestampMixin, Base):
    """A Shopify store served by this deployment.

    The first shop comes from the environment (``SHOPIFY_SHOP_DOMAIN``…); more are added with
    ``dropsync shops add``. Credentials of added shops live here, sealed (``SealedText``); the
    environment's shop keeps its credentials in the environment only (they win, and are never copied here).
    Deferred: a query for shops does not open them; only the code that reads the attribute does.
    """

    __tablename__ = "shops"

    domain: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    access_token: Mapped[str | None] = mapped_column(SealedText, deferred=True)
    client_secret: Mapped[str | None] = mapped_column(SealedText, deferred=True)
    api_url: Mapped[str | None] = mapped_column(String(500))
    plan: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    redacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # Reconciliation: orders updated at or after this instant (minus the overlap window) are re-read.
    # Advanced only after the batch that reached it has been committed.
    orders_watermark: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_reconciled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # Last throttle status Shopify reported (extensions.cost.throttleStatus): read, never hard-coded.
    throttle_maximum_available: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    throttle_currently_available: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    throttle_restore_rate: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    throttle_observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Shop {self.domain}>"
