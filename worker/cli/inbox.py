"""``dropsync inbox``: the webhook deliveries received, and replaying the ones that failed."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select, update

from models import WebhookDelivery
from worker.cli.common import console, print_json, unit_of_work
from worker.db import session_scope
from worker.errors import NotFoundError
from worker.mirror import inbox

app = typer.Typer(help="Webhook deliveries: list, replay.", no_args_is_help=True)


@app.command("list")
def list_deliveries(
    failed: bool = typer.Option(False, "--failed", help="Only deliveries that failed and wait for a person."),
    pending: bool = typer.Option(False, "--pending", help="Only deliveries not handled yet."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Newest deliveries first.

    Example: dropsync inbox list --failed
    """
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if failed:
        query = query.where(WebhookDelivery.handled_at.is_(None), WebhookDelivery.attempts >= inbox.MAX_ATTEMPTS)
    elif pending:
        query = query.where(WebhookDelivery.handled_at.is_(None))
    with unit_of_work() as session:
        rows: list[dict[str, Any]] = [
            {"id": d.id, "delivery_id": d.delivery_id, "topic": d.topic, "received_at": d.received_at,
             "handled_at": d.handled_at, "attempts": d.attempts, "last_error": d.last_error}
            for d in session.scalars(query)
        ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    table = Table("id", "topic", "received", "handled", "attempts", "error")
    for r in rows:
        table.add_row(str(r["id"]), str(r["topic"]), f"{r['received_at']:%Y-%m-%d %H:%M:%S}",
                      f"{r['handled_at']:%H:%M:%S}" if r["handled_at"] else "-", str(r["attempts"]),
                      (r["last_error"] or "")[:60])  # fmt: skip
    console.print(table)


@app.command("replay")
def replay(
    delivery: str | None = typer.Argument(None, help="Inbox id or X-Shopify-Webhook-Id to replay."),
    all_failed: bool = typer.Option(False, "--failed", help="Replay every failed delivery."),
) -> None:
    """Mark deliveries unhandled again and apply them now (applying is idempotent).

    Example: dropsync inbox replay --failed
    """
    if delivery is None and not all_failed:
        raise typer.BadParameter("name a delivery or pass --failed")
    with unit_of_work() as session:
        stmt = update(WebhookDelivery).values(handled_at=None, attempts=0, last_error=None)
        if delivery is not None:
            match = WebhookDelivery.delivery_id == delivery
            if delivery.isdigit():
                match = match | (WebhookDelivery.id == int(delivery))
            stmt = stmt.where(match)
        else:
            stmt = stmt.where(WebhookDelivery.handled_at.is_(None))
        if session.execute(stmt.returning(WebhookDelivery.id)).first() is None and delivery is not None:
            raise NotFoundError(f"unknown delivery {delivery!r}")
    handled = inbox.drain(session_scope)
    with session_scope() as session:
        inbox.resolve_applied_failures(session)
    console.print(f"{handled} deliveries applied")
