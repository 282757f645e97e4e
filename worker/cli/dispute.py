"""``dropsync dispute``: record disputes opened on AliExpress, their evidence and their outcome."""

from __future__ import annotations

from decimal import Decimal

import typer

from integrations.aliexpress.models import Tracking
from models.types import utcnow
from worker.cli.common import SHOP, console, print_json, unit_of_work
from worker.cli.supplier import AT, JSON, actor, describe, parse_amount, parse_at, resolve_supplier_order
from worker.errors import UsageError
from worker.supplier import disputes


def _parcel(parcel: Tracking) -> dict[str, object]:
    """A tracking snapshot as plain JSON (what AliExpress showed, when): dispute evidence."""
    return {
        "tracking_number": parcel.tracking_number,
        "carrier": parcel.carrier,
        "events": [{"at": e.at.isoformat() if e.at else None, "description": e.description} for e in parcel.events],
    }


app = typer.Typer(help="Disputes opened on AliExpress (recorded here).", no_args_is_help=True)


@app.command("open")
def open_(
    ref: str = typer.Argument(..., help="AliExpress order number, or a Shopify order (#1001)."),
    reason: str = typer.Option(..., "--reason", help=", ".join(disputes.REASONS)),
    notes: str | None = typer.Option(None, "--notes"),
    at: str | None = AT,
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Record a dispute you opened on AliExpress.

    Example: dropsync dispute open 8123456789012345 --reason not_received --notes "tracking frozen 20 days"
    """
    when = parse_at(at)
    with unit_of_work() as session:
        so = resolve_supplier_order(session, ref, shop)
        dispute = disputes.open_dispute(session, so, reason, actor(), when, notes=notes)
        row = {
            "dispute_id": dispute.id,
            "seller_response_due_at": dispute.seller_response_due_at,
            "checklist": disputes.checklist(dispute),
        }
    if as_json:
        print_json(row)
        return
    console.print(
        f"dispute {row['dispute_id']} recorded; the seller answers by {row['seller_response_due_at']:%Y-%m-%d}"
    )
    console.print("evidence to collect: tracking snapshot, seller correspondence (`dropsync dispute evidence`)")


@app.command("evidence")
def evidence(
    ref: str = typer.Argument(...),
    kind: str = typer.Argument(..., help=", ".join(disputes.EVIDENCE_KINDS)),
    detail: str | None = typer.Argument(None, help="A note, a file reference, a quote."),
    snapshot: bool = typer.Option(False, "--snapshot", help="Fetch the tracking events from AliExpress now."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Attach evidence to the open dispute (``--snapshot``: a tracking snapshot from AliExpress).

    Example: dropsync dispute evidence '#1001' tracking --snapshot
    """
    from worker.supplier.gateway import client_from_settings

    if not snapshot and not detail:
        raise UsageError("give a DETAIL or --snapshot")
    content: str | dict[str, object] = detail or ""
    if snapshot:
        # Read AliExpress before the write transaction: no database lock held across the HTTP call.
        with unit_of_work() as session:
            supplier_order_id = resolve_supplier_order(session, ref, shop).supplier_order_id
        with client_from_settings() as client:
            parcels = client.get_tracking(supplier_order_id)
        content = {"note": detail, "taken_at": utcnow().isoformat(), "parcels": [_parcel(p) for p in parcels]}
    with unit_of_work() as session:
        so = resolve_supplier_order(session, ref, shop)
        dispute = disputes.get_dispute(session, so)
        disputes.add_evidence(session, dispute, kind, content, actor())
        row = {"dispute_id": dispute.id, "checklist": disputes.checklist(dispute)}
    if as_json:
        print_json(row)
    else:
        console.print(f"evidence added to dispute {row['dispute_id']}; checklist {row['checklist']}")


@app.command("resolve")
def resolve(
    ref: str = typer.Argument(...),
    outcome: str = typer.Argument(..., help=", ".join(disputes.OUTCOMES)),
    refund: str | None = typer.Option(None, "--refund", help="Amount refunded by the outcome."),
    notes: str | None = typer.Option(None, "--notes"),
    at: str | None = AT,
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Record the outcome of the open dispute (a refund becomes a supplier_refund ledger entry, once).

    Example: dropsync dispute resolve '#1001' refunded --refund 12.50
    """
    when = parse_at(at)
    with unit_of_work() as session:
        so = resolve_supplier_order(session, ref, shop)
        dispute = disputes.get_dispute(session, so)
        amount = parse_amount(refund) if refund else Decimal(0)
        disputes.resolve_dispute(session, dispute, outcome, actor(), when, refund_amount=amount, notes=notes)
        row = describe(session, so)
    if as_json:
        print_json(row)
    else:
        console.print(f"dispute resolved: {outcome}; refunded so far {row['amount_refunded']} {row['currency']}")
