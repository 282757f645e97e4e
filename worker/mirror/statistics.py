"""Planner statistics for tables a burst of orders grows faster than autovacuum looks at them.

Every lookup of a mirrored batch is by an array of ids (``worker.db.bulk.any_of``). With statistics,
PostgreSQL answers it with an index scan; without them (a table that grew from nothing since its last
``ANALYZE``: a new shop's first sync, a burst of webhooks) it may scan the whole table and compare each
row with every id of the array — a cost of table size × batch size, paid by every batch. Autovacuum
analyses a table about once a minute at best, after 10 % of it changed; a drain of 20,000 webhooks is
over before then.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import JSON, Connection, Text, text
from sqlalchemy.orm import Session

from models import Base

#: The tables a mirrored batch grows, and the ones its hooks look up by the batch's ids.
MIRROR_TABLES = (
    "orders", "line_items", "fulfillment_orders", "refunds", "transactions", "ledger_entries", "timeline_events",
    "supplier_orders", "supplier_order_items", "alerts", "webhook_inbox",
)  # fmt: skip

_CHANGES = text(
    "SELECT s.relname, s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s "
    "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables)"
)
#: (database, table) → its ``n_mod_since_analyze`` right after this process analysed it: an ANALYZE of
#: some columns does not reset that counter (only a whole-table one, e.g. autovacuum's, does).
_counted_at: dict[tuple[str, str], int] = {}


def analyze_grown(session: Session, tables: Sequence[str] = MIRROR_TABLES, floor: int = 1000) -> list[str]:
    """``ANALYZE`` each of ``tables`` that changed, since its last analysis, by more rows than it held then
    (and at least ``floor``): about log2(N) times while a table grows to N rows from nothing, never on a
    large table in its steady state (autovacuum keeps that one). PostgreSQL only; returns what it analysed.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return []
    database = connection.engine.url.render_as_string(hide_password=True)
    grown: list[tuple[str, int]] = []
    for name, changed, rows in session.execute(_CHANGES, {"tables": list(tables)}):
        since = _counted_at.get((database, name), 0)
        since = since if changed >= since else 0  # analysed whole meanwhile: the counter started again
        if changed - since > max(floor, rows):
            grown.append((name, changed))
    if grown:
        analyze(session, [name for name, _ in grown])
        _counted_at.update({(database, name): changed for name, changed in grown})
    return [name for name, _ in grown]


def analyze(session: Session, tables: Sequence[str], *, target: int | None = None) -> None:
    """``ANALYZE`` these tables' searched columns (PostgreSQL only). ``target``: a statistics target for
    this transaction instead of the server's (100: 30,000 sampled rows; 10: 3,000)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql" and tables:
        if target is not None:
            session.execute(text(f"SET LOCAL default_statistics_target = {int(target)}"))
        # Names from the models' metadata: nothing user-given in the statement.
        session.execute(text(f"ANALYZE {', '.join(_searched_columns(connection, name) for name in tables)}"))


def _searched_columns(connection: Connection, name: str) -> str:
    """``table (columns)`` without its JSON and unbounded text columns: nothing is looked up by them, and
    sampling them decompresses every sampled order's raw JSON, every delivery's body."""
    table = Base.metadata.tables[name]
    quote = connection.dialect.identifier_preparer.quote
    names = [quote(c.name) for c in table.columns if not isinstance(c.type, JSON | Text)]
    return f"{quote(name)} ({', '.join(names)})"
