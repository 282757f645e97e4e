"""Process heartbeats: proof that a worker consumed a message recently (used by readiness and `up`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import UTCDateTime


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    detail: Mapped[str | None] = mapped_column(String(255))
