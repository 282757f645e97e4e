"""PostgreSQL's COPY path of ``worker.db.bulk``: binary where every column has a binary form, the values
read back as written (JSON and its NULLs, money, instants, awkward text), the types' checks kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Engine, Integer, MetaData, String, Table, Text, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import LineItem, Order, TimelineEvent
from models.types import JsonDocument, JsonType, MoneyType, UTCDateTime
from worker.db import bulk

pytestmark = pytest.mark.postgres

_metadata = MetaData()
probe = Table(
    "copy_probe", _metadata,
    Column("id", BigInteger, primary_key=True), Column("doc", JsonType), Column("raw", JsonDocument),
    Column("amount", MoneyType), Column("at", UTCDateTime), Column("note", Text), Column("flag", Boolean),
    Column("name", String(40)), Column("count", Integer),
)  # fmt: skip

PARIS = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture
def table(session: Session) -> Table:
    probe.create(session.connection())  # inside the test's transaction: rolled back with it
    return probe


def _rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "doc": {"tags": ["a", "ü"], "total": Decimal("1.10"), "n": n} if n % 3 else None,
            "raw": {"note": 'tab\there "quoted" back\\slash\nnewline', "emoji": "🛒"},
            "amount": Decimal("12.3456") if n % 2 else None,
            "at": dt.datetime(2026, 12, 5, 10, 0, tzinfo=PARIS if n % 2 else dt.UTC) + dt.timedelta(seconds=n),
            "note": "\\N is not null\r\n\t" if n % 4 else None,
            "flag": n % 2 == 0,
            "name": f"name {n}",
            "count": n,
        }
        for n in range(count)
    ]


def test_copied_rows_read_back_as_written(session: Session, table: Table) -> None:
    rows = _rows(bulk.COPY_MIN_ROWS + 10)
    bulk.insert_rows(session, table, rows)
    stored = {row.id: row for row in session.execute(select(table))}
    assert len(stored) == len(rows)
    for want in rows:
        got = stored[want["id"]]
        assert got.doc == (None if want["doc"] is None else {"tags": ["a", "ü"], "total": "1.10", "n": want["id"]})
        assert got.raw == want["raw"]
        assert got.amount == want["amount"]
        assert got.at == want["at"]
        assert got.at.tzinfo == dt.UTC
        assert (got.note, got.flag, got.name, got.count) == (want["note"], want["flag"], want["name"], want["count"])


def test_a_naive_timestamp_is_refused_on_the_copy_path(session: Session, table: Table) -> None:
    rows = _rows(bulk.COPY_MIN_ROWS + 10)
    rows[-1]["at"] = dt.datetime(2026, 12, 5, 10, 0)  # the mistake under test: no zone
    with pytest.raises(ValueError, match="naive datetime"):
        bulk.insert_rows(session, table, rows)


def test_a_float_amount_is_refused_on_the_copy_path(session: Session, table: Table) -> None:
    rows = _rows(bulk.COPY_MIN_ROWS + 10)
    rows[-1]["amount"] = 12.34
    with pytest.raises(TypeError, match="must be Decimal"):
        bulk.insert_rows(session, table, rows)


@pytest.mark.parametrize("model", [Order, LineItem, TimelineEvent])
def test_the_mirror_tables_copy_in_binary(session: Session, model: Any) -> None:
    columns = tuple(column.name for column in model.__table__.columns if column.name != "id")
    _, types = bulk._copy_plan(session.get_bind().dialect, model.__table__, columns)
    assert types is not None, "a column lost its binary COPY form: the backfill falls back to text"


def test_a_failed_commit_does_not_leave_a_staging_table_counted_as_there(committed_db: Engine) -> None:
    """The staging table created in a transaction whose COMMIT fails (a deferred constraint) is gone with
    it: the connection's next merge creates it again instead of meeting "relation does not exist"."""
    metadata = MetaData()
    target = Table("stage_probe", metadata, Column("id", BigInteger, primary_key=True), Column("note", Text))
    with committed_db.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS stage_probe_check, stage_probe"))
        metadata.create_all(conn)
        once = "CONSTRAINT once UNIQUE (n) DEFERRABLE INITIALLY DEFERRED"
        conn.execute(text(f"CREATE TABLE stage_probe_check (n int, {once})"))
    rows = [{"id": n, "note": f"row {n}"} for n in range(bulk.COPY_MIN_ROWS + 1)]
    try:
        with committed_db.connect() as conn:
            conn.begin()
            bulk.upsert(conn, target, rows, conflict=["id"], update=["note"])
            conn.execute(text("INSERT INTO stage_probe_check VALUES (1), (1)"))  # fails at COMMIT only
            with pytest.raises(IntegrityError):
                conn.commit()
            conn.rollback()
            with conn.begin():
                bulk.upsert(conn, target, rows, conflict=["id"], update=["note"])
            assert conn.scalar(select(func.count()).select_from(target)) == len(rows)
    finally:
        with committed_db.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS stage_probe_check, stage_probe"))


def test_insert_new_copies_with_ids_from_the_sequence_in_the_rows_order(session: Session, table: Table) -> None:
    rows = [{k: v for k, v in row.items() if k != "id"} for row in _rows(bulk.COPY_MIN_ROWS + 6)]
    random_order = sorted(rows, key=lambda row: str(row["name"]), reverse=True)  # against the key's order
    ids = bulk.insert_new(session, table, random_order, ["name"])
    assert ids is not None
    assert len(set(ids)) == len(rows)
    stored = {row.id: row.name for row in session.execute(select(table.c.id, table.c.name))}
    assert [stored[i] for i in ids] == [row["name"] for row in random_order]
    # drawn in key order: the lowest id went to the first name
    assert min(ids) == ids[random_order.index(min(random_order, key=lambda row: row["name"]))]


def test_insert_new_meeting_a_row_already_there_writes_nothing_and_the_transaction_goes_on(
    session: Session, table: Table
) -> None:
    session.execute(text("CREATE UNIQUE INDEX copy_probe_name ON copy_probe (name)"))
    rows = [{k: v for k, v in row.items() if k != "id"} for row in _rows(bulk.COPY_MIN_ROWS + 6)]
    bulk.insert_rows(session, table, [{**rows[5], "id": 10_000}])  # another writer's row, same name
    assert bulk.insert_new(session, table, rows, ["name"]) is None
    assert session.scalar(select(func.count()).select_from(table)) == 1
    assert bulk.insert_new(session, table, rows[6:], ["name"]) is not None
    assert session.scalar(select(func.count()).select_from(table)) == len(rows) - 5


def test_insert_new_refuses_a_table_without_a_serial_id(session: Session) -> None:
    """A table keyed otherwise has no sequence to draw ids from: a clear error, on every backend, before
    anything is sent (on PostgreSQL it would have COPYed null ids and aborted the caller's transaction)."""
    keyed = Table("copy_probe_keyed", MetaData(), Column("name", String(40), primary_key=True))
    with pytest.raises(ValueError, match="copy_probe_keyed has no serial id"):
        bulk.insert_new(session, keyed, [{"name": "a"}], ["name"])
