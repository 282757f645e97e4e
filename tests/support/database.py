"""Making the database do to a test's transaction what it does to a real one under contention."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def abort_as(session: Session, sqlstate: str) -> None:
    """PostgreSQL aborts this transaction with ``sqlstate`` (``40P01``: as it aborts one of two deadlocked
    transactions; ``40001``: a serialization failure). A real server error, raised by the server."""
    session.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'aborted' USING ERRCODE = '{sqlstate}'; END $$"))
