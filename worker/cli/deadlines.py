"""``dropsync deadlines``: what needs a person now, most urgent first."""

from __future__ import annotations

from typing import Any

import typer

from worker import clock
from worker.cli.check import print_items
from worker.cli.common import SHOP, print_json, unit_of_work
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
    print_items(items)  # the same blocks as dropsync check: what and when, the advice, the command
