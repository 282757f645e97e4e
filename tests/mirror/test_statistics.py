"""Planner statistics for what a burst grows: the searched columns of every mirrored table, never the JSON."""

from __future__ import annotations

from sqlalchemy.orm import Session

from worker.mirror import statistics


def test_the_searched_columns_leave_out_json_and_unbounded_text(session: Session) -> None:
    def columns(table: str) -> set[str]:
        listed = statistics._searched_columns(session.connection(), table)
        return set(listed.split("(", 1)[1].rstrip(")").split(", "))

    assert {"shop_id", "shopify_gid", "shopify_updated_at"} <= columns("orders")
    assert not {"raw", "note_attributes", "shipping_address", "tags"} & columns("orders")
    assert "body" not in columns("webhook_inbox")


def test_every_mirror_table_can_be_analysed(session: Session) -> None:
    """A table or column renamed in the models must not break the drain's ANALYZE (PostgreSQL)."""
    statistics.analyze(session, statistics.MIRROR_TABLES)


def test_a_table_that_did_not_grow_past_the_floor_is_left_alone(session: Session) -> None:
    assert statistics.analyze_grown(session, floor=10**9) == []
