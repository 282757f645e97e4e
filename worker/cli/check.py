"""``dropsync check``: every disagreement and open alert, most urgent first, per shop; exit 1 if any."""

from __future__ import annotations

from itertools import groupby

import typer
from rich.text import Text

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
        print_items(items)
    if items:
        raise typer.Exit(1)


def print_items(items: list[Item]) -> None:
    """One block per item, most urgent first: what and when, the advice, then the command on a line of its
    own (a table cut the command short with "…" in an 80-column terminal; it is what the operator copies)."""
    if not items:
        console.print("all agree: nothing needs a person right now")
        return
    for shop, group in groupby(sorted(items, key=lambda i: i.shop), key=lambda i: i.shop):
        rows = list(group)
        console.print(Text(f"{shop}: {len(rows)} to act on", style="bold"))
        for i in rows:
            style = {"critical": "red", "warning": "yellow"}.get(i.severity, "cyan")
            due = f"due {i.due_at:%Y-%m-%d %H:%M}" if i.due_at else "no deadline"
            where = i.order or "-"
            if i.supplier_order:
                where += f" (AliExpress {i.supplier_order})"
            head = Text.assemble((f"[{i.severity}] ", style), f"{where} · ", (i.kind, style), f" · {due}")
            console.print(head)
            console.print(Text(f"  {i.message}"))
            if i.command:
                console.print(Text(f"  $ {i.command}", style="bold"), soft_wrap=True)
        console.print()
