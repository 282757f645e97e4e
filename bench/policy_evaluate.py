"""How fast the policy decides: pure ``evaluate`` calls, file loading and lint (no database, no I/O).

- ``evaluate``: µs per decision and decisions/s for a whole-order cancellation (2 lines, one supplier
  order), a damaged-item return, and a 50-line order split over 3 supplier orders (partial request).
- ``load``: parsing and validating ``policy.example.toml`` (what a worker does at start-up and when the
  file changes), and the version hash alone.
- ``lint``: one lint of a policy with two named suppliers.

Usage: .venv/bin/python -m bench.policy_evaluate [--repeat 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

from worker.policy import (
    DEFAULT_POLICY,
    Evidence,
    FulfillmentState,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
    evaluate,
    parse_policy,
)
from worker.policy.lint import lint

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def _timed(label: str, repeat: int, call: Callable[[], object]) -> None:
    call()
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    elapsed = time.perf_counter() - started
    print(f"{label:<48} {elapsed / repeat * 1e6:9.1f} µs/call {repeat / elapsed:11.0f} calls/s  (n={repeat})")


def _order(lines: int) -> PolicyOrder:
    return PolicyOrder(
        currency="USD",
        lines=tuple(OrderLine(str(i), 2, D("19.99"), D("1.00"), D("1.60")) for i in range(1, lines + 1)),
        shipping=D("4.99"),
        total_paid=D("10000"),
        already_refunded=D("0"),
        fulfillment=FulfillmentState.UNFULFILLED,
        created_at=NOW - dt.timedelta(days=2),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20000)
    repeat = parser.parse_args().repeat

    small = _order(2)
    paid = SupplierSnapshot("Acme Store", SupplierState.AWAITING_SHIPMENT, amount_paid=D("20.00"))
    whole = Request(RequestKind.CANCEL, Reason.CHANGED_MIND)
    _timed("evaluate: cancel whole order (2 lines)", repeat, lambda: evaluate(DEFAULT_POLICY, whole, small, paid, NOW))

    delivered = SupplierSnapshot(
        "Acme Store", SupplierState.DELIVERED, amount_paid=D("20.00"), delivered_at=NOW - dt.timedelta(days=3)
    )
    damaged = Request(RequestKind.RETURN, Reason.DAMAGED, {"1": 1}, frozenset({Evidence.PHOTOS}))
    _timed("evaluate: return 1 damaged unit", repeat, lambda: evaluate(DEFAULT_POLICY, damaged, small, delivered, NOW))

    big = _order(50)
    split = tuple(
        SupplierSnapshot(
            f"Seller {k}",
            SupplierState.AWAITING_SHIPMENT,
            amount_paid=D("300.00"),
            items={str(i): 2 for i in range(1 + k * 17, min(51, 18 + k * 17))},
        )
        for k in range(3)
    )
    some = Request(RequestKind.CANCEL, Reason.CHANGED_MIND, {str(i): 1 for i in range(1, 50, 3)})
    _timed(
        "evaluate: 17 of 50 lines, 3 supplier orders",
        repeat // 10,
        lambda: evaluate(DEFAULT_POLICY, some, big, split, NOW),
    )

    text = (ROOT / "policy.example.toml").read_text()
    _timed("load: parse + validate policy.example.toml", repeat // 20, lambda: parse_policy(text))
    _timed("load: version hash (canonical JSON + sha256)", repeat // 20, DEFAULT_POLICY.canonical_json)
    two = parse_policy(
        '[suppliers."A"]\nrefund_reasons = ["damaged"]\n[suppliers."B"]\ncancel_before_shipment = false\n'
    )
    _timed("lint: two named suppliers", repeat // 20, lambda: lint(two))


if __name__ == "__main__":
    main()
