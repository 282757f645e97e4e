"""``dropsync report``: money reports from the ledger."""

from __future__ import annotations

import typer
from rich.table import Table

from worker.cancellation.exposure import exposures, totals
from worker.cli.common import SHOP, console, print_json, unit_of_work
from worker.orders import resolve_order

app = typer.Typer(help="Reports from the ledger.", no_args_is_help=True)


@app.command("exposure")
def exposure(
    order: str | None = typer.Argument(None, help="One order (default: every order with refunds or requests)."),
    shop: str | None = SHOP,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per order: refunded to the customer − recovered from the supplier; and the total per currency.

    Example: dropsync report exposure --json
    """
    with unit_of_work() as session:
        ids = [resolve_order(session, order, shop=shop).id] if order else None
        rows = exposures(session, ids)
    total = totals(rows)
    if as_json:
        print_json({"orders": [r.to_dict() for r in rows], "total": {c: str(v) for c, v in total.items()}})
        return
    table = Table("order", "refunded", "recovered", "expected back", "due", "exposure")
    for r in rows:
        due = r.refund_due_at.strftime("%Y-%m-%d") if r.refund_due_at else ""
        table.add_row(r.order_name, f"{r.refunded_to_customer} {r.currency}", str(r.recovered_from_supplier),
                      str(r.expected_from_supplier), due, str(r.exposure))  # fmt: skip
    console.print(table)
    for currency, value in sorted(total.items()):
        console.print(f"total exposure: {value} {currency}")
