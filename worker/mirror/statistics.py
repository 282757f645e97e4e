"""Planner statistics for tables a burst of orders grows faster than autovacuum looks at them.

Every lookup of a mirrored batch is by an array of ids (``worker.mirror.bulk.any_of``). With statistics,
PostgreSQL answers it with an index scan; without them (a table that grew from nothing since its last
``ANALYZE``: a new shop's first sync, a burst of webhooks) it may scan the whole table and compare each
row with every id of the array — a cost of table size × batch size, paid by every batch. Autovacuum
analyses a table about once a minute at best, after 10 % of it changed; a drain of 20,000 webhooks is
over before then.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

#: The tables a mirrored batch grows, and the ones its hooks look up by the batch's ids.
MIRROR_TABLES = (
    "orders", "line_items", "fulfillment_orders", "refunds", "transactions", "ledger_entries", "timeline_events",
    "supplier_orders", "supplier_order_items", "alerts",
)  # fmt: skip

_GROWN = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables) "
    "AND s.n_mod_since_analyze > greatest(:floor, c.reltuples)"
)


def analyze_grown(session: Session, tables: Sequence[str] = MIRROR_TABLES, floor: int = 1000) -> list[str]:
    """``ANALYZE`` each of ``tables`` that changed, since its last analysis, by more rows than it held then
    (and at least ``floor``): about log2(N) times while a table grows to N rows from nothing, never on a
    large table in its steady state (autovacuum keeps that one). PostgreSQL only; returns what it analysed.
    """
    if session.get_bind().dialect.name != "postgresql":
        return []
    grown = list(session.scalars(_GROWN, {"tables": list(tables), "floor": floor}))
    if grown:
        # Names from the list above, as the catalog returned them: nothing user-given in the statement.
        session.execute(text(f"ANALYZE {', '.join(grown)}"))
    return grown
