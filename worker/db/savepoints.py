"""A SAVEPOINT around an insert that may hit a unique index, where one is safe.

On PostgreSQL the savepoint lets the caller's transaction survive the refusal (another transaction
inserted the same key first: once is the rule, and the caller carries on).

Not on SQLite: pysqlite starts its transaction lazily, so a SAVEPOINT as the transaction's first
statement *is* the transaction and its RELEASE commits — a later rollback would not undo the row.
SQLite serialises writers; a concurrent duplicate there fails the whole unit of work instead, so a
caller catching the ``IntegrityError`` must re-raise it when :func:`has_savepoints` is False (the
session is unusable until the boundary rolls back).

Nothing in ``worker/`` outside this package calls ``Session.begin_nested()`` (a test enforces it).
"""

from __future__ import annotations

import contextlib

from sqlalchemy.orm import Session


def has_savepoints(session: Session) -> bool:
    """Whether :func:`savepoint` really opens one on ``session``'s database."""
    return session.get_bind().dialect.name != "sqlite"


def savepoint(session: Session) -> contextlib.AbstractContextManager[object]:
    """``with savepoint(session): session.add(row); session.flush()``: see the module's rules."""
    if not has_savepoints(session):
        return contextlib.nullcontext()
    return session.begin_nested()
