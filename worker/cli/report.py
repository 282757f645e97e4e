"""``dropsync report``: money reports from the ledger."""

from __future__ import annotations

import typer
from rich.table import Table

from worker.cancellation.exposure import exposures, shown_elsewhere, totals
from worker.cli.common import SHOP, console, print_json, unit_of_work
from worker.orders import resolve_order

app = typer.Typer(help="Reports from the ledger.", no_args_is_help=True)


@app.command("exposure")
def exposure(
    order: str | None = typer.Argument(None, help="One order (default: every order with refunds or requests)."),
    shop: str | None = SHOP,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per order: refunded to the customer − recovered from the supplier, chargebacks not won (disputed
    amount and fee), and the total at risk per currency: still to recover from suppliers plus chargebacks
    (orders whose supplier was never paid have nothing to recover; a surplus — recovered more than
    refunded — is shown negative and not netted; the due date goes once recovered). Amounts in another
    currency than the order's (a seller paid in EUR) are shown beside it, never added or subtracted. The
    dropsync_exposure gauge is the same total.

    Example: dropsync report exposure --json
    """
    with unit_of_work() as session:
        ids = [resolve_order(session, order, shop=shop).id] if order else None
        rows = exposures(session, ids)
    total = totals(rows)
    if as_json:
        print_json({"orders": [r.to_dict() for r in rows], "total": {c: str(v) for c, v in total.items()}})
        return
    table = Table(
        "order", "refunded", "recovered", "expected back", "due", "refunded − recovered", "to recover",
        "chargebacks", "at risk",
    )  # fmt: skip
    for r in rows:
        due = r.due_at.strftime("%Y-%m-%d") if r.due_at else ""
        m = r.shown
        table.add_row(r.order_name, f"{m(r.refunded_to_customer)} {r.currency}{shown_elsewhere(r.refunded_elsewhere)}",
                      m(r.recovered_from_supplier) + shown_elsewhere(r.recovered_elsewhere),
                      m(r.expected_from_supplier), due, f"{m(r.exposure)} ({r.status})", m(r.to_recover),
                      m(r.chargebacks), m(r.at_risk))  # fmt: skip
    console.print(table)
    for currency, value in sorted(total.items()):
        console.print(f"total at risk (to recover + chargebacks): {value} {currency}")
