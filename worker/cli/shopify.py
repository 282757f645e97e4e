"""``dropsync shopify``: the store-side setup (webhook subscriptions)."""

from __future__ import annotations

import typer

from worker.cli.common import console, print_json, settings, unit_of_work
from worker.errors import UsageError
from worker.mirror.shops import client_for_shop
from worker.mirror.subscriptions import subscribe_all
from worker.shops import get_shop

app = typer.Typer(help="Shopify-side setup.", no_args_is_help=True)


@app.command("subscribe")
def subscribe(
    url: str | None = typer.Option(
        None, "--url", help="Public base URL of `dropsync web` (default: DROPSYNC_PUBLIC_URL)."
    ),
    shop: str | None = typer.Option(None, "--shop", help="Shop domain (default: the configured shop)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register the webhook subscriptions dropsync needs (idempotent).

    Example: dropsync shopify subscribe --url https://dropsync.example.com
    """
    base = url or settings().public_url
    if not base:
        raise UsageError("no callback URL: pass --url or set DROPSYNC_PUBLIC_URL")
    callback = base.rstrip("/") + "/webhooks/shopify"
    with unit_of_work() as session:
        shop_id = get_shop(session, shop).id
    with client_for_shop(shop_id) as client:
        done = subscribe_all(client, callback)
    if as_json:
        print_json([{"topic": s.topic, "uri": s.uri, "created": s.created} for s in done])
        return
    created = sum(s.created for s in done)
    console.print(f"{len(done)} topics subscribed to {callback} ({created} new, {len(done) - created} already there)")
