"""Many-row statements, fast on PostgreSQL.

SQLAlchemy sends a many-row ``INSERT … RETURNING`` as one huge multi-VALUES statement; psycopg then
re-parses tens of thousands of placeholders on every batch (its statement cache stops at 4 KB). Here,
on PostgreSQL, the single-row statement is compiled once and handed to psycopg's ``executemany``:
one short, prepared statement, all rows pipelined in one round trip, and ``RETURNING`` read per row
(an empty result where the ``ON CONFLICT … WHERE`` declined the row). Bind processing stays
SQLAlchemy's (the column types' own processors). Other databases use SQLAlchemy's executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session


def execute_many(session: Session, stmt: Any, rows: Sequence[dict[str, Any]], *, returning: bool) -> list[Any]:
    """Run ``stmt`` (an INSERT with ``.values(col=bindparam(col))``) for every row; rows returned, if any."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if returning:
            return list(session.execute(stmt, list(rows)).all() if len(rows) > 1 else session.execute(stmt, rows[0]))
        session.execute(stmt, list(rows))
        return []
    compiled = stmt.compile(dialect=connection.dialect)
    processors = compiled._bind_processors  # SQLAlchemy's per-parameter type processors (JSON, money, UTC)
    constants = compiled.params  # literal binds of the statement itself (e.g. a WHERE's 'webhook')
    params = [{k: processors[k](v) if k in processors else v for k, v in {**constants, **row}.items()} for row in rows]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(str(compiled), params, returning=returning)
        found: list[Any] = []
        while returning:
            found.extend(cursor.fetchall())
            if not cursor.nextset():
                break
        return found
    finally:
        cursor.close()


def insert_values(insert: Any, columns: Sequence[str]) -> Any:
    """``insert.values(a=:a, b=:b, …)``: the single-row form ``execute_many`` compiles once."""
    return insert.values({name: bindparam(name) for name in columns})
