"""``dropsync check``: every disagreement and open alert, most urgent first, per shop; exit 1 if any."""

from __future__ import annotations

from itertools import groupby

import typer
from rich.table import Table

from worker import clock
from worker.cli.common import console, print_json, unit_of_work
from worker.crosscheck.report import Item, attention
from worker.orders import resolve_shop


def check(
    shop: str | None = typer.Option(None, "--shop", help="Only this shop (its domain)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """What needs a person: Shopify/AliExpress disagreements, supplier deadlines, open alerts.

    Exit code 1 when anything needs a person (for cron or CI to page on), 0 when all is well.

    Example: dropsync check --json
    """
    now = clock.now()
    with unit_of_work() as session:
        shop_id = resolve_shop(session, shop).id if shop else None
        items = attention(session, now, shop_id)
    if as_json:
        print_json({"checked_at": now, "needs_attention": bool(items), "items": [i.to_dict() for i in items]})
    else:
        _print(items)
    if items:
        raise typer.Exit(1)


def _print(items: list[Item]) -> None:
    if not items:
        console.print("all agree: nothing needs a person right now")
        return
    for shop, group in groupby(sorted(items, key=lambda i: i.shop), key=lambda i: i.shop):
        rows = list(group)
        table = Table(title=f"{shop}: {len(rows)} to act on", title_justify="left")
        for header in ("due", "order", "what", "do this", "command"):
            table.add_column(header, no_wrap=header in ("due", "order"))
        for i in rows:
            style = {"critical": "red", "warning": "yellow"}.get(i.severity, "cyan")
            due = f"{i.due_at:%Y-%m-%d %H:%M}" if i.due_at else "-"
            order = i.order or "-"
            if i.supplier_order:
                order += f"\n{i.supplier_order}"
            table.add_row(due, order, f"[{style}]{i.kind}[/{style}]", i.message, i.command or "")
        console.print(table)
