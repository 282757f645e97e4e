"""COPY in text or binary format through ``worker.db.bulk.insert_rows``, the path the backfill writes by.

Order-like rows (a ~3.4 KB raw JSON document, JSONB tags, money, instants, text) into a table with the
ledger's column types, on a fresh PostgreSQL database. Each format runs ``--rounds`` times, alternating;
printed: the best and median wall time (the server's parse included) and the client's CPU, with the load
average. Text is what ``bulk`` falls back to when a column has no binary form.

Usage: python -m bench.copy_format [--rows 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, MetaData, String, Table, Text, text

from bench.common import bench_database
from models.types import JsonDocument, JsonType, MoneyType, UTCDateTime
from worker.db import bulk
from worker.db.engine import json_bytes, make_engine

probe = Table(
    "copy_format_probe", MetaData(),
    Column("id", BigInteger, primary_key=True), Column("gid", String(64)), Column("name", Text),
    Column("created_at", UTCDateTime), Column("updated_at", UTCDateTime), Column("total", MoneyType),
    Column("paid", Boolean), Column("tags", JsonType), Column("raw", JsonDocument),
)  # fmt: skip


def _rows(count: int) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    line = {"title": "Wireless earbuds, black", "sku": "EB-01\tB", "price": "12.50", "quantity": 2}
    raw = {"id": "gid://shopify/Order/1", "note": 'said "leave at door"\n', "lineItems": {"nodes": [line] * 40}}
    common = {"created_at": now, "updated_at": now, "total": Decimal("123.45"), "paid": True, "raw": raw}
    return [
        {"id": n, "gid": f"gid://shopify/Order/{n}", "name": f"#{1000 + n}", "tags": ["aliexpress"], **common}
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = _rows(args.rows)
    binary_plan = bulk._copy_plan

    def text_plan(dialect: Any, table: Table, columns: tuple[str, ...]) -> tuple[list[Any], list[str] | None]:
        return binary_plan(dialect, table, columns, binary=False)

    load = os.getloadavg()
    timings: dict[str, list[tuple[float, float]]] = {"text": [], "binary": []}
    with bench_database("dropsync_bench_copy") as url:
        engine = make_engine(url)
        probe.create(engine)
        for _ in range(args.rounds):
            for form, plan in (("text", text_plan), ("binary", binary_plan)):
                bulk._copy_plan = plan  # type: ignore[assignment]
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE copy_format_probe"))
                with engine.begin() as conn:
                    wall, cpu = time.perf_counter(), time.process_time()
                    bulk.insert_rows(conn, probe, rows)
                    timings[form].append((time.perf_counter() - wall, time.process_time() - cpu))
        bulk._copy_plan = binary_plan
        engine.dispose()
    size = len(json_bytes(rows[0]["raw"]))
    print(f"COPY of {args.rows:,} order-like rows (raw JSON {size:,} bytes each), {args.rounds} rounds")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    print(f"{'format':8} {'best wall s':>12} {'median wall s':>14} {'best client CPU s':>18}")
    for form, runs in timings.items():
        walls = [wall for wall, _ in runs]
        print(f"{form:8} {min(walls):12.3f} {statistics.median(walls):14.3f} {min(cpu for _, cpu in runs):18.3f}")


if __name__ == "__main__":
    main()
