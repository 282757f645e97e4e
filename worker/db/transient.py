"""Transactions the database aborted to resolve a conflict, run again.

PostgreSQL aborts one of two transactions that wait on each other's row locks (``deadlock_detected``,
SQLSTATE 40P01) and, at ``REPEATABLE READ`` or above, one that read what another changed since
(``serialization_failure``, 40001). Neither says anything is wrong with the work: the server's manual
asks the application to run the transaction again. A backfill's batch and a webhook's merge of the same
orders do wait on each other (each locks rows the other wrote, in different orders), so the work that
meets them runs through :func:`run_transaction` instead of failing the command or the task.

Only work that is safe to repeat from the start goes through it: the whole transaction was rolled back,
and the mirror's writes are monotonic upserts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from worker.db.unit_of_work import UnitOfWork
from worker.observability.metrics import DB_TRANSACTIONS_RETRIED

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: SQLSTATEs of a transaction aborted only because of another one: deadlock_detected, serialization_failure.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

#: Runs of a transaction before its last abort is raised (the first one included).
ATTEMPTS = 5


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is the database aborting the transaction in favour of another one: as SQLAlchemy
    wraps it, or as the driver raises it where :mod:`worker.db.bulk` uses the driver's cursor (``COPY``)."""
    return _sqlstate(exc) in TRANSIENT_SQLSTATES


def _sqlstate(exc: BaseException) -> str | None:
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def run_transaction(
    unit_of_work: UnitOfWork, work: Callable[[Session], T], *, what: str, attempts: int = ATTEMPTS
) -> T:
    """``work`` in one transaction of ``unit_of_work``, run again (after a short random pause, so the two
    do not meet again at once) each time the database aborts it for another's sake; at most ``attempts``
    runs, then the last abort is raised."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work() as session:
                return work(session)
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            sqlstate = _sqlstate(exc)
            DB_TRANSACTIONS_RETRIED.labels(what).inc()
            log.warning("transaction aborted by the database; running it again", what=what, attempt=attempt,
                        sqlstate=sqlstate)  # fmt: skip
            time.sleep(random.uniform(0.01, 0.05 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
