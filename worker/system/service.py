"""Heartbeats: written by the worker, read by readiness checks and `dropsync up`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Table
from sqlalchemy.orm import Session

from models import Heartbeat
from models.types import utcnow
from worker.mirror.apply import dialect_insert

HEARTBEATS: Table = Heartbeat.__table__  # type: ignore[assignment]


def record_heartbeat(session: Session, name: str, detail: str | None = None) -> None:
    """Upsert in one statement: two pool processes beating at once must not collide on the key."""
    now = utcnow()
    stmt = dialect_insert(session, HEARTBEATS).values(name=name, seen_at=now, detail=detail)
    fresh = {"seen_at": now, "detail": detail}
    session.execute(stmt.on_conflict_do_update(index_elements=[HEARTBEATS.c.name], set_=fresh))


def last_heartbeat(session: Session, name: str) -> dt.datetime | None:
    row = session.get(Heartbeat, name, populate_existing=True)
    return row.seen_at if row else None
