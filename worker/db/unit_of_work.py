"""The unit of work: one transaction, committed on success and rolled back on any exception.

Boundaries (the HTTP handler, the Celery task, the CLI command) own the transaction; services only
``flush()``. A service that needs several transactions of its own (a claim committed before a network
call, then the result in another) takes a :data:`UnitOfWork` and opens each one with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from worker.db.engine import get_sessionmaker

#: What services that commit step by step take: ``with unit_of_work() as session: …`` is one transaction.
UnitOfWork = Callable[[], AbstractContextManager[Session]]


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextlib.contextmanager
def nested_scope(session: Session) -> Iterator[Session]:
    """A SAVEPOINT inside ``session``'s open transaction as a unit of work (``lambda: nested_scope(s)``):
    a test running a multi-transaction service inside its one rolled-back transaction.

    Always a real SAVEPOINT, so the transaction must already have written (on SQLite a SAVEPOINT that
    opens the transaction *is* the transaction: see :mod:`worker.db.savepoints`).
    """
    with session.begin_nested():
        yield session
