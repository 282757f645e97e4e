"""``dropsync sync``: reconcile the ledger with Shopify now, or backfill it from a bulk export."""

from __future__ import annotations

import datetime as dt

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from worker.cli.common import console, err_console, print_json, settings, unit_of_work
from worker.db import session_scope
from worker.errors import UsageError
from worker.mirror import backfill, reconcile
from worker.mirror.collector import few_arenas
from worker.mirror.shops import client_for_shop
from worker.shops import get_shop

app = typer.Typer(help="Bring the ledger up to date with Shopify.", no_args_is_help=True)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=False,  # stderr: stdout carries only the result (--json stays parseable)
    )  # fmt: skip


@app.command("reconcile")
def reconcile_command(
    shop: str | None = typer.Option(None, "--shop", help="Shop domain (default: the configured shop)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Re-read every order changed since the watermark (minus the overlap window) and apply it.

    Example: dropsync sync reconcile --shop example.myshopify.com
    """
    with unit_of_work() as session:
        shop_id = get_shop(session, shop).id
    overlap = dt.timedelta(seconds=settings().reconcile_overlap_seconds)
    with _progress() as progress, client_for_shop(shop_id) as client:
        task = progress.add_task("reconciling", total=None)

        def on_page(result: reconcile.ReconcileResult) -> None:
            progress.update(task, completed=result.orders_seen, description=f"reconciling (drift {result.drift})")

        result = reconcile.reconcile_shop(session_scope, shop_id, client, overlap, on_page=on_page)
    summary = {"pages": result.pages, "orders": result.orders_seen, "drift": result.drift,
               "watermark": result.watermark}  # fmt: skip
    if as_json:
        print_json(summary)
    else:
        console.print(f"{result.orders_seen} orders read in {result.pages} pages; {result.drift} were missing or "
                      f"stale in the ledger; watermark {result.watermark or '-'}")  # fmt: skip


def _parse_since(since: str | None) -> dt.datetime | None:
    if since is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(since)
    except ValueError:
        raise UsageError(f"--since: not a date: {since!r} (use e.g. 2026-01-31)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@app.command("backfill")
def backfill_command(
    since: str | None = typer.Option(None, "--since", help="Only orders updated since this date (ISO 8601)."),
    resume: int | None = typer.Option(None, "--resume", help="Resume backfill ID from its checkpoints."),
    shop: str | None = typer.Option(None, "--shop", help="Shop domain (default: the configured shop)."),
) -> None:
    """Export every order with bulk operations and apply them in batches (resumable).

    A shop of 10,000 orders or more is exported in 10 parts by creation time: each part is applied while
    Shopify exports the next.

    Example: dropsync sync backfill --since 2026-01-01
    """
    few_arenas()  # this process is the backfill: its memory stays flat (see the function)
    with unit_of_work() as session:
        shop_row = get_shop(session, shop)
        shop_id = shop_row.id
    with client_for_shop(shop_id) as client:
        with unit_of_work() as session:
            if resume is None:
                lead = backfill.start_run(session, get_shop(session, shop), client, _parse_since(since))
            else:
                lead = backfill.parts_of(session, resume)[0]
            backfill_id, parts = lead.id, lead.parts
        console.print(f"backfill {backfill_id}: {parts} part{'s' if parts > 1 else ''}; waiting for Shopify's export…")
        with _progress() as progress:
            task = progress.add_task("applying orders", total=None)
            try:
                applied = backfill.run(
                    session_scope, backfill_id, client, poll_seconds=0.25,  # 1 point a poll
                    on_part=lambda number, total: progress.update(task, description=f"applying part {number}/{total}"),
                    on_batch=lambda done, _: progress.update(task, completed=done),
                )  # fmt: skip
            except backfill.BackfillFailed as exc:
                raise backfill.BackfillFailed(
                    f"backfill {backfill_id}: {exc}; the orders applied so far are kept, and "
                    f"`dropsync sync backfill --resume {backfill_id}` exports the unfinished parts again"
                ) from None
    console.print(f"backfill {backfill_id}: {applied} orders applied")
