"""``dropsync deadlines``: what needs a person now, most urgent first."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from worker import clock
from worker.cli.common import SHOP, console, print_json, unit_of_work
from worker.crosscheck.report import attention
from worker.orders import resolve_shop


def deadlines(
    shop: str | None = SHOP, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
) -> None:
    """Supplier deadlines near or passed, Shopify/AliExpress disagreements, unknown statuses, failing polls
    and other open alerts, most urgent first; each with its shop, order and the command that acts on it.

    Example: dropsync deadlines --json
    """
    now = clock.now()
    with unit_of_work() as session:
        shop_id = resolve_shop(session, shop).id if shop else None
        items = attention(session, now, shop_id)
    rows: list[dict[str, Any]] = [
        {
            "shop": i.shop,
            "order": i.order,
            "supplier_order_id": i.supplier_order,
            "kind": i.kind,
            "stage": "passed" if i.due_at is None or i.due_at <= now else "near",
            "due_at": i.due_at,
            "severity": i.severity,
            "message": i.message,
            "command": i.command,
            "source": i.source,
        }
        for i in items
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("nothing needs a person right now")
        return
    table = Table()
    for header in ("due", "order", "what", "do this"):
        table.add_column(header, no_wrap=header in ("due", "what"))
    for r in rows:
        style = "red" if r["stage"] == "passed" else "yellow"
        due = r["due_at"].strftime("%Y-%m-%d %H:%M") if r["due_at"] else "-"
        where = "\n".join(
            x for x in (r["order"], r["supplier_order_id"], r["shop"].removesuffix(".myshopify.com")) if x
        )
        table.add_row(due, where, f"[{style}]{r['kind']}[/{style}]", r["message"])
    console.print(table)
