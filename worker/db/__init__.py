"""The ledger's database plumbing, shared by every feature.

- :mod:`worker.db.engine`: the engine and session factory;
- :mod:`worker.db.unit_of_work`: :data:`UnitOfWork` and :func:`session_scope`, one transaction each;
- :mod:`worker.db.savepoints`: :func:`savepoint`, the only way to open a SAVEPOINT (SQLite's trap);
- :mod:`worker.db.bulk`: many-row ``INSERT … ON CONFLICT`` (imported from there: it pulls in the
  PostgreSQL dialect, which the CLI's start-up need not pay for).
"""

from worker.db.engine import get_engine, get_sessionmaker, make_engine, reset_engine_cache
from worker.db.savepoints import has_savepoints, savepoint
from worker.db.unit_of_work import UnitOfWork, nested_scope, session_scope

__all__ = [
    "UnitOfWork",
    "get_engine",
    "get_sessionmaker",
    "has_savepoints",
    "make_engine",
    "nested_scope",
    "reset_engine_cache",
    "savepoint",
    "session_scope",
]
