"""``dropsync supplier``: link supplier orders, record what the seller did, poll AliExpress."""

from __future__ import annotations

import datetime as dt
import getpass
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Order, SupplierOrder, TimelineEvent
from models.types import utcnow
from worker.cli.common import SHOP, console, print_json, settings, unit_of_work
from worker.errors import NotFoundError, UsageError
from worker.orders import resolve_order, resolve_shop, shop_domain
from worker.supplier import service
from worker.supplier.disputes import checklist
from worker.supplier.linking import parse_items

app = typer.Typer(help="Supplier (AliExpress) orders: link, record, poll.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Machine-readable output.")
AT = typer.Option(None, "--at", help="When it happened (ISO 8601 with zone; default now).")


def actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:cli"


def parse_at(value: str | None) -> dt.datetime:
    if value is None:
        return utcnow()
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--at: not an ISO 8601 time: {value!r}") from None
    if at.tzinfo is None:
        raise UsageError(f"--at: give a time zone (e.g. {value}+00:00)")
    return at.astimezone(dt.UTC)


def parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise UsageError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise UsageError(f"an amount must be positive: {value!r}")
    return amount


def resolve_supplier_order(session: Session, ref: str, shop: str | None = None) -> SupplierOrder:
    """An AliExpress order number, or a Shopify order reference with exactly one supplier order (in ``shop``)."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) >= 6:
        query = select(SupplierOrder).where(SupplierOrder.supplier_order_id == ref)
        if shop:
            query = query.where(SupplierOrder.shop_id == resolve_shop(session, shop).id)
        found = session.scalars(query).all()
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UsageError(f"supplier order {ref} exists in several shops; give --shop or use the Shopify order")
    try:
        order = resolve_order(session, ref, shop=shop)
    except NotFoundError:
        raise NotFoundError(f"unknown supplier order or order {ref!r}") from None
    linked = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()
    if not linked:
        raise NotFoundError(f"{order.name} has no supplier order (link one with `dropsync supplier link`)")
    if len(linked) > 1:
        ids = ", ".join(so.supplier_order_id for so in linked)
        raise UsageError(f"{order.name} has several supplier orders ({ids}): name one")
    return linked[0]


def describe(session: Session, so: SupplierOrder, *, events: int = 0) -> dict[str, Any]:
    order = session.get(Order, so.order_id) if so.order_id else None
    row: dict[str, Any] = {
        "shop": shop_domain(session, so.shop_id),
        "supplier_order_id": so.supplier_order_id,
        "order": order.name if order else None,
        "status": so.status,
        "status_label": st.STATE_LABELS.get(so.status, so.status)
        if so.last_polled_at or so.raw_status
        else "not polled yet",
        "status_unknown": so.status_unknown,
        "raw": {
            "order_status": so.raw_status,
            "end_reason": so.raw_end_reason,
            "logistics_status": so.raw_logistics_status,
        },
        "tracking_numbers": so.tracking_numbers,
        "amount_paid": so.amount_paid,
        "amount_refunded": so.amount_refunded,
        "currency": so.currency,
        "items": [{"line_item_id": i.line_item_id, "quantity": i.quantity} for i in so.items],
        "deadlines": {
            "handling": so.handling_deadline,
            "seller_silence": so.seller_silence_deadline,
            "tracking_due": so.tracking_due_at,
            "refund_due": so.refund_due_at,
            "protection_ends": so.protection_ends_at,
            "protection_extended_days": so.protection_extended_days,
        },
        "last_polled_at": so.last_polled_at,
        "next_poll_at": so.next_poll_at,
        "poll_failures": so.poll_failures,
        "last_poll_error": so.last_poll_error,
        "disputes": [
            {
                "id": d.id,
                "reason": d.reason,
                "state": d.state,
                "outcome": d.outcome,
                "opened_at": d.opened_at,
                "refund_amount": d.refund_amount,
                "evidence": checklist(d),
            }
            for d in so.disputes
        ],
    }
    if events:
        query = select(TimelineEvent).where(TimelineEvent.supplier_order_id == so.id)
        rows = session.scalars(query.order_by(TimelineEvent.id.desc()).limit(events)).all()
        row["timeline"] = [
            {"at": e.occurred_at, "kind": e.kind, "actor": e.actor, "message": e.message} for e in reversed(rows)
        ]
    return row


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _print_detail(row: dict[str, Any]) -> None:
    console.print(f"[bold]supplier order {row['supplier_order_id']}[/bold] for {row['order'] or '(no order)'}")
    flag = "  [red](unknown value: see raw)[/red]" if row["status_unknown"] else ""
    console.print(f"  status: {row['status_label']}{flag}")
    raw = row["raw"]
    console.print(
        f"  AliExpress: {raw['order_status'] or '-'} / {raw['end_reason'] or '-'} / {raw['logistics_status'] or '-'}"
    )
    console.print(f"  paid {row['amount_paid']} {row['currency']}, refunded {row['amount_refunded']} {row['currency']}")
    console.print(f"  tracking: {', '.join(row['tracking_numbers']) or '-'}")
    for name, value in row["deadlines"].items():
        if value not in (None, 0):
            console.print(f"  {name.replace('_', ' ')}: {_fmt(value)}")
    console.print(
        f"  polled: {_fmt(row['last_polled_at'])}, next: {_fmt(row['next_poll_at'])}"
        + (f", failing ({row['poll_failures']}×): {row['last_poll_error']}" if row["poll_failures"] else "")
    )
    for d in row["disputes"]:
        console.print(
            f"  dispute {d['id']}: {d['reason']}, {d['state']}"
            + (f" → {d['outcome']}" if d["outcome"] else "")
            + f", evidence {d['evidence']}"
        )
    if row.get("timeline"):
        table = Table("when", "actor", "what", title="timeline (latest)")
        for e in row["timeline"]:
            table.add_row(_fmt(e["at"]), e["actor"], e["message"])
        console.print(table)


@app.command("link")
def link(
    order_ref: str = typer.Argument(..., metavar="ORDER", help="#1001, a numeric id or a GID."),
    supplier_order_id: str = typer.Argument(..., help="The AliExpress order number."),
    items: str | None = typer.Option(
        None, "--items", help="LINE:QTY,… (LINE: the line number `orders show` prints, or a SKU). Default: all."
    ),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Link an AliExpress order to a Shopify order (and the line items it covers).

    Example: dropsync supplier link '#1001' 8123456789012345 --items 1:2,2:1
    """
    with unit_of_work() as session:
        order = resolve_order(session, order_ref, shop=shop)
        chosen = parse_items(order, items) if items else None
        so = service.link_supplier_order(session, order, supplier_order_id, chosen, actor())
        row = describe(session, so)
        positions = {line.id: n for n, line in enumerate(order.line_items, start=1)}  # as `orders show` numbers them
    if as_json:
        print_json(row)
        return
    covered = ", ".join(f"{i['quantity']} × line {positions.get(i['line_item_id'], '?')}" for i in row["items"])
    number, name = row["supplier_order_id"], row["order"]
    console.print(f"linked AliExpress order {number} to {name} ({covered or 'no items'}); polled shortly")


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="AliExpress order number, or a Shopify order (#1001)."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Everything known about a supplier order: status, money, deadlines, disputes, timeline.

    Example: dropsync supplier show 8100000000000001
    """
    with unit_of_work() as session:
        try:
            rows = [describe(session, resolve_supplier_order(session, ref, shop), events=15)]
        except UsageError as exc:
            if "several supplier orders" not in str(exc):
                raise
            order = resolve_order(session, ref, shop=shop)
            linked = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id))
            rows = [describe(session, so, events=15) for so in linked]
    if as_json:
        print_json(rows if len(rows) > 1 else rows[0])
        return
    for row in rows:
        _print_detail(row)


@app.command("list")
def list_orders(
    state: str | None = typer.Option(None, "--state", help=f"Only this state ({', '.join(st.STATES)})."),
    include_closed: bool = typer.Option(False, "--closed", help="Include closed supplier orders."),
    as_json: bool = JSON,
) -> None:
    """Supplier orders, most recently changed first.

    Example: dropsync supplier list --json
    """
    if state and state not in st.STATES:
        raise UsageError(f"--state: one of {', '.join(st.STATES)}")
    with unit_of_work() as session:
        query = select(SupplierOrder).order_by(SupplierOrder.updated_at.desc()).limit(500)
        if state:
            query = query.where(SupplierOrder.status == state)
        elif not include_closed:
            query = query.where(SupplierOrder.status.not_in(st.CLOSED_STATES))
        rows = [describe(session, so) for so in session.scalars(query)]
    if as_json:
        print_json(rows)
        return
    table = Table()
    for header in ("supplier order", "order", "status", "paid", "tracking", "next poll"):
        table.add_column(header, no_wrap=header in ("supplier order", "order"))
    for r in rows:
        table.add_row(
            r["supplier_order_id"],
            r["order"] or "-",
            r["status_label"] + (" (!)" if r["status_unknown"] else ""),
            f"{r['amount_paid']} {r['currency']}",
            ", ".join(r["tracking_numbers"]) or "-",
            _fmt(r["next_poll_at"]),
        )
    console.print(table)


@app.command("poll")
def poll(
    ref: str | None = typer.Argument(None, help="One supplier order (default: every due one)."),
    poll_all: bool = typer.Option(False, "--all", help="Every open supplier order, due or not."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Ask AliExpress now (what the beat task does every minute for due orders).

    Example: dropsync supplier poll --all
    """
    from worker.db import session_scope
    from worker.supplier.gateway import client_from_settings
    from worker.supplier.polling import poll_due, poll_supplier_order

    if ref and poll_all:
        raise UsageError("give a supplier order or --all, not both")
    with client_from_settings() as client:
        if ref:
            with unit_of_work() as session:
                so = resolve_supplier_order(session, ref, shop)
                outcome = poll_supplier_order(session, so, client, utcnow())
                result: dict[str, Any] = {
                    "outcomes": {outcome.outcome: 1},
                    "error": outcome.error,
                    "supplier_order": describe(session, so),
                }
        else:
            if poll_all:
                with unit_of_work() as session:
                    open_orders = select(SupplierOrder).where(SupplierOrder.status.not_in(st.CLOSED_STATES))
                    for so in session.scalars(open_orders):
                        so.next_poll_at = utcnow()
            summary = poll_due(session_scope, client, utcnow, 10_000 if poll_all else settings().supplier_poll_batch)
            result = {"outcomes": summary.outcomes, "polled": summary.polled}
    if as_json:
        print_json(result)
        return
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(result["outcomes"].items())) or "nothing due"
    console.print(f"polled: {outcomes}")
    if ref:
        if result["error"]:
            console.print(f"  error: {result['error']}")
        _print_detail(result["supplier_order"])


def _record(
    ref: str, fn: Any, *args: Any, done: str, noop: str | None = None, as_json: bool = False, shop: str | None = None
) -> None:
    with unit_of_work() as session:
        so = resolve_supplier_order(session, ref, shop)
        changed = fn(session, so, *args)
        row = describe(session, so)
    if as_json:
        print_json(row)
    else:
        console.print(
            noop
            if changed is False and noop
            else f"supplier order {row['supplier_order_id']}: {done} (now {row['status_label']})"
        )


@app.command("cancel-requested")
def cancel_requested(
    ref: str = typer.Argument(...), at: str | None = AT, shop: str | None = SHOP, as_json: bool = JSON
) -> None:
    """Record that you asked the seller to cancel (on AliExpress). Starts the 48 h silence clock.

    Example: dropsync supplier cancel-requested '#1001'
    """
    when = parse_at(at)
    _record(
        ref,
        lambda s, so: service.record_cancellation_requested(s, so, actor(), when),
        done="cancellation request recorded",
        noop="already recorded",
        as_json=as_json,
        shop=shop,
    )


@app.command("confirm")
def confirm(ref: str = typer.Argument(...), at: str | None = AT, shop: str | None = SHOP, as_json: bool = JSON) -> None:
    """Record that the seller accepted the cancellation: the supplier refund is now expected.

    Example: dropsync supplier confirm '#1001'
    """
    when = parse_at(at)
    _record(
        ref,
        lambda s, so: service.record_cancellation_confirmed(s, so, actor(), when),
        done="cancellation confirmed, refund expected",
        noop="already confirmed",
        as_json=as_json,
        shop=shop,
    )


@app.command("refuse")
def refuse(ref: str = typer.Argument(...), at: str | None = AT, shop: str | None = SHOP, as_json: bool = JSON) -> None:
    """Record that the seller refused to cancel (and has not shipped): consider a dispute.

    Example: dropsync supplier refuse '#1001'
    """
    when = parse_at(at)
    _record(
        ref,
        lambda s, so: service.record_seller_refused(s, so, actor(), when),
        done="refusal recorded; if it still does not ship, open a dispute",
        as_json=as_json,
        shop=shop,
    )


@app.command("shipped")
def shipped(
    ref: str = typer.Argument(...),
    tracking: list[str] = typer.Option([], "--tracking", help="Tracking number (repeatable). None: a bare claim."),
    at: str | None = AT,
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Record the seller's "already shipped" claim; without tracking, tracking becomes due in N business days.

    Example: dropsync supplier shipped '#1001' --tracking LP123456789CN
    """
    when = parse_at(at)
    _record(
        ref,
        lambda s, so: service.record_shipped_claim(s, so, tracking, actor(), when),
        done="shipment claim recorded",
        as_json=as_json,
        shop=shop,
    )


@app.command("refund-received")
def refund_received(
    ref: str = typer.Argument(...),
    amount: str = typer.Argument(..., help="e.g. 12.50"),
    currency: str | None = typer.Option(None, "--currency", help="Default: the supplier order's currency."),
    reference: str | None = typer.Option(None, "--reference", help="AliExpress refund id (makes it idempotent)."),
    at: str | None = AT,
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Record money back from the supplier (a supplier_refund ledger entry, counted once).

    Example: dropsync supplier refund-received '#1001' 12.50 --reference R123
    """
    value, when = parse_amount(amount), parse_at(at)
    _record(
        ref,
        lambda s, so: service.record_supplier_refund(
            s, so, value, currency or so.currency, actor(), when, reference=reference
        ),
        done=f"refund of {value} recorded",
        as_json=as_json,
        shop=shop,
    )


@app.command("extend-protection")
def extend_protection(
    ref: str = typer.Argument(...),
    days: int = typer.Argument(..., min=1),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Record that the seller extended buyer protection by DAYS.

    Example: dropsync supplier extend-protection '#1001' 15
    """
    _record(
        ref,
        lambda s, so: service.record_protection_extension(s, so, days, actor()),
        done=f"protection extended by {days} days",
        as_json=as_json,
        shop=shop,
    )
