"""Bulk backfill runs and their resumable checkpoints."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, TimestampMixin
from models.types import UTCDateTime


class BulkBackfill(IdMixin, TimestampMixin, Base):
    """One bulk export of orders; ``lines_applied`` is the checkpoint a resumed run skips to.

    A large backfill is one run in ``parts``: the first part's row leads (``part_of_id`` NULL), the others
    point at it. Each part exports the orders created in ``[created_from, created_before)`` (an open end
    is unbounded) with its own bulk operation and checkpoint; the run is done when every part is.
    """

    __tablename__ = "bulk_backfills"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    bulk_operation_gid: Mapped[str | None] = mapped_column(String(100), unique=True)
    since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24), default="created", nullable=False)
    result_url: Mapped[str | None] = mapped_column(Text)
    object_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    lines_applied: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    orders_applied: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    part_of_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_backfills.id", ondelete="CASCADE"), index=True)
    part: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    parts: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    created_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
