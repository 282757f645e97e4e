"""``dropsync shops``: the stores this deployment serves."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from models import Shop
from worker.cli.common import console, print_json, unit_of_work
from worker.shops import add_shop

app = typer.Typer(help="Shops served by this deployment.", no_args_is_help=True)


@app.command("add")
def add(
    domain: str = typer.Argument(..., help="e.g. example.myshopify.com"),
    access_token: str = typer.Option(..., "--access-token", envvar="DROPSYNC_NEW_SHOP_TOKEN"),
    client_secret: str = typer.Option(..., "--client-secret", envvar="DROPSYNC_NEW_SHOP_SECRET"),
    api_url: str | None = typer.Option(None, "--api-url", help="Override https://{shop} (e.g. a sandbox)."),
) -> None:
    """Add a shop (or update its credentials).

    Example: dropsync shops add second.myshopify.com --access-token shpat_… --client-secret …
    """
    with unit_of_work() as session:
        shop = add_shop(session, domain, access_token, client_secret, api_url)
        console.print(f"shop {shop.domain} added (id {shop.id})")


@app.command("list")
def list_shops(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List shops with their sync watermark and last observed throttle status.

    Example: dropsync shops list
    """
    with unit_of_work() as session:
        shops = session.scalars(select(Shop).order_by(Shop.id)).all()
        rows = [
            {
                "id": s.id,
                "domain": s.domain,
                "active": s.active,
                "orders_watermark": s.orders_watermark,
                "throttle_available": s.throttle_currently_available,
                "throttle_restore_rate": s.throttle_restore_rate,
            }
            for s in shops
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "domain", "active", "watermark", "bucket")
    for r in rows:
        bucket = f"{r['throttle_available']} (+{r['throttle_restore_rate']}/s)" if r["throttle_available"] else "-"
        table.add_row(str(r["id"]), str(r["domain"]), str(r["active"]), str(r["orders_watermark"] or "-"), bucket)
    console.print(table)
