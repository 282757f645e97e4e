"""Heartbeats: written by the worker, read by readiness checks and `dropsync up`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Table
from sqlalchemy.orm import Session

from models import Heartbeat
from models.types import utcnow
from worker.db.bulk import upsert

HEARTBEATS: Table = Heartbeat.__table__  # type: ignore[assignment]


def record_heartbeat(session: Session, name: str, detail: str | None = None) -> None:
    """Upsert in one statement: two pool processes beating at once must not collide on the key."""
    row = {"name": name, "seen_at": utcnow(), "detail": detail}
    upsert(session, HEARTBEATS, [row], conflict=["name"], update=["seen_at", "detail"])


def last_heartbeat(session: Session, name: str) -> dt.datetime | None:
    row = session.get(Heartbeat, name, populate_existing=True)
    return row.seen_at if row else None
