"""Heartbeats: written by the worker, read by readiness checks and `dropsync up`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from models import Heartbeat
from models.types import utcnow


def record_heartbeat(session: Session, name: str, detail: str | None = None) -> None:
    row = session.get(Heartbeat, name)
    if row is None:
        row = Heartbeat(name=name, seen_at=utcnow())
        session.add(row)
    row.seen_at, row.detail = utcnow(), detail
    session.flush()


def last_heartbeat(session: Session, name: str) -> dt.datetime | None:
    row = session.get(Heartbeat, name)
    return row.seen_at if row else None
