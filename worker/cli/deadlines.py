"""``dropsync deadlines``: what needs a person now, most urgent first."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from models.types import utcnow
from worker.cancellation.intents import overdue_rows
from worker.chargebacks.deadlines import attention_rows as chargeback_rows
from worker.cli.common import console, print_json, unit_of_work
from worker.deadlines.alerts import needing_attention
from worker.deadlines.rules import DeadlinePolicy


def deadlines(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Overdue Shopify actions, then supplier deadlines near or passed (and unknown statuses, failing
    polls) and chargebacks waiting for evidence, most urgent first.

    Example: dropsync deadlines --json
    """
    now = utcnow()
    with unit_of_work() as session:
        rows: list[dict[str, Any]] = [
            {
                "order": a.order_name,
                "supplier_order_id": a.supplier_order.supplier_order_id,
                "kind": a.finding.kind,
                "stage": a.finding.stage,
                "due_at": a.finding.due_at,
                "severity": a.finding.severity,
                "message": a.finding.message,
            }
            for a in needing_attention(session, now, DeadlinePolicy.from_settings())
        ]
        rows = sorted(rows + chargeback_rows(session, now), key=lambda r: (r["stage"] != "passed", r["due_at"]))
        rows = overdue_rows(session, now) + rows
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("nothing needs a person right now")
        return
    table = Table()
    for header in ("due", "order", "supplier order", "what", "do this"):
        table.add_column(header, no_wrap=header in ("order", "supplier order"))
    for r in rows:
        style = "red" if r["stage"] == "passed" else "yellow"
        due = r["due_at"].strftime("%Y-%m-%d %H:%M UTC")
        kind = f"[{style}]{r['kind']} ({r['stage']})[/{style}]"
        table.add_row(due, r["order"] or "-", r["supplier_order_id"] or "-", kind, r["message"])
    console.print(table)
