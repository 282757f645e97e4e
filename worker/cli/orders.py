"""``dropsync orders list|show``: the mirrored orders and everything the ledger knows about one.

``show`` reads the mirror (status, line items, money), the supplier orders linked to it, cancellation
requests and the Shopify intents that carry them out, the Shopify Payments disputes (chargebacks) and the
money they took or hold, ledger money entries, alerts (open ones in the table), and the full timeline with
who did what. Read-only: nothing here changes the ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import typer
from rich import box
from rich.table import Column, Table
from rich.text import Text
from sqlalchemy import Table as LedgerTable
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Alert,
    CancellationRequest,
    Chargeback,
    LedgerEntry,
    Order,
    RequestEvidence,
    ReturnCase,
    Shop,
    ShopifyIntent,
    SupplierOrder,
    SupplierOrderItem,
    TimelineEvent,
)
from models.types import utcnow
from worker.cli.common import SHOP, at_currency_precision, console, print_json, unit_of_work
from worker.errors import UsageError
from worker.orders import resolve_order, resolve_shop, shop_domain

app = typer.Typer(help="Mirrored orders: list, show.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Machine-readable output.")

STATUS_FILTERS = ("open", "cancelled", "unfulfilled", "fulfilled", "paid", "refunded", "partially_refunded")


def parse_since(value: str | None, now: dt.datetime) -> dt.datetime | None:
    """``--since``: an ISO date/datetime (UTC when naive) or a relative age like ``3d``, ``12h``, ``30m``."""
    if value is None:
        return None
    text = value.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) >= 2 and text[-1] in units and text[:-1].isdigit():
        return now - dt.timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: expected a date (2026-01-31), a datetime or an age (3d, 12h), got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _status_clause(status: str) -> Any:
    """The SQL condition for one ``--status`` value (validated against ``STATUS_FILTERS``)."""
    orders = ORDERS.c
    clauses: dict[str, Any] = {
        "open": orders.cancelled_at.is_(None),
        "cancelled": orders.cancelled_at.is_not(None),
        "unfulfilled": orders.display_fulfillment_status == "UNFULFILLED",
        "fulfilled": orders.display_fulfillment_status == "FULFILLED",
        "paid": orders.display_financial_status == "PAID",
        "refunded": orders.display_financial_status == "REFUNDED",
        "partially_refunded": orders.display_financial_status == "PARTIALLY_REFUNDED",
    }
    key = status.strip().lower()
    if key not in clauses:
        raise UsageError(f"--status: unknown status {status!r} (one of: {', '.join(STATUS_FILTERS)})")
    return clauses[key]


#: ``orders list`` reads these tables through Core: an ORM query would first configure every mapper of
#: the ledger (a tenth of the command's time), for a read that needs none of them.
ORDERS: LedgerTable = Order.__table__  # type: ignore[assignment]
_SUPPLIER_ORDERS: LedgerTable = SupplierOrder.__table__  # type: ignore[assignment]
_REQUESTS: LedgerTable = CancellationRequest.__table__  # type: ignore[assignment]
_SHOPS: LedgerTable = Shop.__table__  # type: ignore[assignment]


def list_rows(
    session: Session, *, status: str | None, since: dt.datetime | None, limit: int, shop_id: int | None = None
) -> list[dict[str, Any]]:
    """Newest orders first (by Shopify creation time), with their shop, supplier-order and request counts."""
    o = ORDERS.c
    columns = (o.id, o.shop_id, o.name, o.shopify_gid, o.shopify_created_at, o.display_financial_status,
               o.display_fulfillment_status, o.cancelled_at, o.total_price, o.total_refunded, o.currency,
               o.customer_name, o.source)  # fmt: skip
    query = select(*columns).order_by(o.shopify_created_at.desc(), o.id.desc()).limit(limit)
    if shop_id is not None:
        query = query.where(o.shop_id == shop_id)
    if status is not None:
        query = query.where(_status_clause(status))
    if since is not None:
        query = query.where(o.shopify_created_at >= since)
    orders = session.execute(query).all()
    ids = [row.id for row in orders]
    suppliers = _count_by_order(session, _SUPPLIER_ORDERS.c.order_id, ids)
    requests = _count_by_order(session, _REQUESTS.c.order_id, ids)
    domains: dict[int, str] = {row.id: row.domain for row in session.execute(select(_SHOPS.c.id, _SHOPS.c.domain))}
    return [
        {"shop": domains.get(o.shop_id), "id": o.id, "name": o.name, "gid": o.shopify_gid,
         "created_at": o.shopify_created_at,
         "financial_status": o.display_financial_status, "fulfillment_status": o.display_fulfillment_status,
         "cancelled_at": o.cancelled_at, "total": o.total_price, "refunded": o.total_refunded,
         "currency": o.currency, "customer": o.customer_name, "source": o.source,
         "supplier_orders": suppliers.get(o.id, 0), "cancellation_requests": requests.get(o.id, 0)}
        for o in orders
    ]  # fmt: skip


def _count_by_order(session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    return {int(order_id): int(count) for order_id, count in rows}


@app.command("list")
def list_orders(
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(STATUS_FILTERS)}."),
    since: str | None = typer.Option(None, "--since", help="Created since a date (2026-01-31) or an age (3d, 12h)."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="At most this many orders."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Mirrored orders, newest first.

    Examples: dropsync orders list --status unfulfilled --since 7d ;  dropsync orders list --json
    """
    with unit_of_work() as session:
        shop_id = resolve_shop(session, shop).id if shop else None
        rows = list_rows(session, status=status, since=parse_since(since, utcnow()), limit=limit, shop_id=shop_id)
    rows = at_currency_precision(rows)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no orders match")
        return
    # No rules between columns, one space: a line fits an 80-column terminal ("sup.": supplier orders). The
    # shop is a column only when the orders listed come from more than one, and its name is what gives.
    several = len({r["shop"] for r in rows}) > 1
    shop_column = [Column("shop", max_width=14, overflow="ellipsis", no_wrap=True)] if several else []
    fixed = [Column(name, no_wrap=True) for name in ("order", "created", "payment", "fulfillment")]
    right = [Column(name, justify="right", no_wrap=True) for name in ("total", "refunded", "sup.", "req.")]
    table = Table(*shop_column, *fixed, *right, box=box.SIMPLE_HEAD, show_edge=False, padding=0)
    for r in rows:
        fulfillment = "CANCELLED" if r["cancelled_at"] else (r["fulfillment_status"] or "-")
        shop_cell = [str(r["shop"]).removesuffix(".myshopify.com")] if several else []
        table.add_row(*shop_cell, r["name"], f"{r['created_at']:%Y-%m-%d %H:%M}", r["financial_status"] or "-",
                      fulfillment, f"{r['total']} {r['currency']}", str(r["refunded"]), str(r["supplier_orders"]),
                      str(r["cancellation_requests"]))  # fmt: skip
    console.print(table)


def _order_part(session: Session, order: Order) -> dict[str, Any]:
    return {
        "shop": shop_domain(session, order.shop_id), "id": order.id, "name": order.name, "gid": order.shopify_gid,
        "legacy_id": order.legacy_id,
        "created_at": order.shopify_created_at, "updated_at": order.shopify_updated_at,
        "financial_status": order.display_financial_status, "fulfillment_status": order.display_fulfillment_status,
        "cancelled_at": order.cancelled_at, "cancel_reason": order.cancel_reason, "currency": order.currency,
        "total": order.total_price, "subtotal": order.subtotal_price, "shipping": order.total_shipping,
        "tax": order.total_tax, "refunded": order.total_refunded, "outstanding": order.total_outstanding,
        "customer": order.customer_name, "email": order.email, "source": order.source,
        "mirrored_at": order.mirrored_at, "redacted_at": order.redacted_at,
    }  # fmt: skip


def _line_items(order: Order) -> list[dict[str, Any]]:
    return [
        {"line": n, "id": li.id, "gid": li.shopify_gid, "title": li.title, "variant": li.variant_title, "sku": li.sku,
         "quantity": li.quantity, "current_quantity": li.current_quantity,
         "unfulfilled_quantity": li.unfulfilled_quantity, "unit_price": li.unit_price}
        for n, li in enumerate(sorted(order.line_items, key=lambda li: li.id), start=1)
    ]  # fmt: skip


def _fulfillment_orders(order: Order) -> list[dict[str, Any]]:
    """Shopify's fulfillment orders as the ledger holds them; ``lines``: the numbers of the line items each
    holds (``line`` in ``line_items``), as far as Shopify's read listed them (a backfill's export does not)."""
    numbers = {li.shopify_gid: n for n, li in enumerate(sorted(order.line_items, key=lambda li: li.id), start=1)}
    return [
        {"gid": fo.shopify_gid, "status": fo.status, "request_status": fo.request_status,
         "location": fo.assigned_location, "updated_at": fo.shopify_updated_at,
         "lines": [numbers[li["line_item_gid"]] for li in fo.line_items if li.get("line_item_gid") in numbers]}
        for fo in order.fulfillment_orders
    ]  # fmt: skip


def _supplier_orders(session: Session, order: Order) -> list[dict[str, Any]]:
    # A supplier order can be tied to this order through its items only (linked before order_id was set).
    via_items = select(SupplierOrderItem.supplier_order_id).where(
        SupplierOrderItem.line_item_id.in_([li.id for li in order.line_items])
    )
    query = select(SupplierOrder).where((SupplierOrder.order_id == order.id) | SupplierOrder.id.in_(via_items))
    return [
        {"id": so.id, "supplier": so.supplier, "supplier_order_id": so.supplier_order_id, "status": so.status,
         "raw_status": so.raw_status, "end_reason": so.raw_end_reason, "tracking_numbers": so.tracking_numbers,
         "amount_paid": so.amount_paid, "amount_refunded": so.amount_refunded, "currency": so.currency,
         "shipped_at": so.shipped_at, "handling_deadline": so.handling_deadline,
         "protection_ends_at": so.protection_ends_at, "last_polled_at": so.last_polled_at,
         "disputes": [{"id": d.id, "state": d.state, "reason": d.reason, "opened_at": d.opened_at,
                       "outcome": d.outcome, "refund_amount": d.refund_amount} for d in so.disputes]}
        for so in session.scalars(query.order_by(SupplierOrder.id))
    ]  # fmt: skip


def _requests(session: Session, order: Order) -> list[dict[str, Any]]:
    from worker.policy.decision import Decision  # imported where used: `orders list` needs no policy

    query = select(CancellationRequest).where(CancellationRequest.order_id == order.id)
    return [
        {"id": r.id, "kind": r.kind, "state": r.state, "reason": r.reason, "items": r.items,
         "action": decision and decision.action.value, "refund_total": decision and str(decision.refund_total),
         "requested_by": r.requested_by, "created_at": r.created_at, "completed_at": r.completed_at}
        for r in session.scalars(query.order_by(CancellationRequest.id))
        for decision in [Decision.stored(r.policy_decision)]
    ]  # fmt: skip


def order_returns(session: Session, order_id: int) -> list[dict[str, Any]]:
    from worker.policy.decision import Decision  # imported where used: `orders list` needs no policy

    query = select(ReturnCase).where(ReturnCase.order_id == order_id).order_by(ReturnCase.id)
    return [
        {"id": r.id, "gid": r.shopify_gid, "source": r.source, "reason": r.reason, "state": r.state,
         "shopify_status": r.shopify_status, "action": decision and decision.action.value,
         "refunded": r.refund_total, "currency": r.currency, "keep_item": r.keep_item}
        for r in session.scalars(query)
        for decision in [Decision.stored(r.policy_decision)]
    ]  # fmt: skip


def order_evidence(session: Session, order_id: int) -> list[dict[str, Any]]:
    query = select(RequestEvidence).where(RequestEvidence.order_id == order_id).order_by(RequestEvidence.id)
    return [
        {"for": f"cancellation {e.cancellation_request_id}" if e.cancellation_request_id else f"return {e.return_id}",
         "kind": e.kind, "reference": e.reference, "recorded_by": e.recorded_by, "recorded_at": e.recorded_at}
        for e in session.scalars(query)
    ]  # fmt: skip


def _intents(session: Session, order: Order) -> list[dict[str, Any]]:
    query = select(ShopifyIntent).where(ShopifyIntent.order_id == order.id).order_by(ShopifyIntent.id)
    return [
        {"id": i.id, "kind": i.kind, "state": i.state, "attempts": i.attempts, "key": i.idempotency_key,
         "request_id": i.cancellation_request_id, "last_error": i.last_error, "result_ids": i.result_ids,
         "completed_at": i.completed_at}
        for i in session.scalars(query)
    ]  # fmt: skip


def _money(session: Session, order: Order) -> list[dict[str, Any]]:
    query = (
        select(LedgerEntry).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    )
    return [
        {"kind": e.kind, "amount": e.amount, "currency": e.currency, "occurred_at": e.occurred_at,
         "source_ref": e.source_ref, "note": e.note}
        for e in session.scalars(query)
    ]  # fmt: skip


def _chargebacks(session: Session, order: Order) -> list[dict[str, Any]]:
    """The order's Shopify Payments disputes and the money each costs the store, by the exposure report's
    rule (``worker.chargebacks.exposure``): a chargeback not won (nor prevented) costs its amount plus the
    fee. ``lost``: what a decided one took for good (LOST, ACCEPTED…); ``at_risk``: what an open one holds
    (the bank already took it back; it returns only if the store wins). An inquiry moves no money."""
    from models.chargebacks import FINAL_STATUSES
    from worker.chargebacks.exposure import cost as cost_of  # imported where used: `orders list` needs none of it

    query = select(Chargeback).where(Chargeback.order_id == order.id).order_by(Chargeback.id)
    rows = []
    for c in session.scalars(query):
        cost = cost_of(c)
        final = c.status in FINAL_STATUSES
        rows.append(
            {"id": c.id, "dispute": c.dispute_gid, "type": c.dispute_type, "reason": c.reason,
             "network_reason_code": c.network_reason_code, "status": c.status, "amount": c.amount, "fee": c.fee,
             "currency": c.currency, "initiated_at": c.initiated_at, "evidence_due_by": c.evidence_due_by,
             "evidence_submitted": c.evidence_submitted, "evidence_sent_on": c.evidence_sent_on,
             "submitted_by": c.submitted_by, "finalized_on": c.finalized_on,
             "lost": cost if final else Decimal(0), "at_risk": Decimal(0) if final else cost}
        )  # fmt: skip
    return rows


def _chargeback_totals(chargebacks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per currency: what the order's chargebacks took for good (``lost``) and hold while open (``at_risk``)."""
    totals: dict[str, dict[str, Any]] = {}
    for c in chargebacks:
        entry = totals.setdefault(c["currency"], {"currency": c["currency"], "lost": Decimal(0), "at_risk": Decimal(0)})
        entry["lost"] += c["lost"]
        entry["at_risk"] += c["at_risk"]
    return list(totals.values())


def _alerts(session: Session, order: Order) -> list[dict[str, Any]]:
    query = select(Alert).where(Alert.order_id == order.id).order_by(Alert.raised_at, Alert.id)
    return [
        {"kind": a.kind, "severity": a.severity, "message": a.message, "due_at": a.due_at,
         "raised_at": a.raised_at, "resolved_at": a.resolved_at}
        for a in session.scalars(query)
    ]  # fmt: skip


def _timeline(session: Session, order: Order, supplier_ids: list[int]) -> list[dict[str, Any]]:
    where = TimelineEvent.order_id == order.id
    if supplier_ids:
        where = where | TimelineEvent.supplier_order_id.in_(supplier_ids)
    query = select(TimelineEvent).where(where).order_by(TimelineEvent.occurred_at, TimelineEvent.id)
    return [
        {"at": e.occurred_at, "kind": e.kind, "actor": e.actor, "message": e.message, "data": e.data}
        for e in session.scalars(query)
    ]


def describe_order(session: Session, order: Order) -> dict[str, Any]:
    """Everything about one order, as plain data (the ``--json`` shape of ``orders show``)."""
    suppliers = _supplier_orders(session, order)
    chargebacks = _chargebacks(session, order)
    return {
        "order": _order_part(session, order),
        "line_items": _line_items(order),
        "fulfillment_orders": _fulfillment_orders(order),
        "supplier_orders": suppliers,
        "cancellation_requests": _requests(session, order),
        "returns": order_returns(session, order.id),
        "evidence": order_evidence(session, order.id),
        "chargebacks": chargebacks,
        "chargeback_totals": _chargeback_totals(chargebacks),
        "intents": _intents(session, order),
        "money": _money(session, order),
        "alerts": _alerts(session, order),
        "timeline": _timeline(session, order, [s["id"] for s in suppliers]),
    }


@app.command("show")
def show(
    order: str = typer.Argument(..., help="#1001, shop:#1001, a numeric id or a GID."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """One order: mirror state, line items, fulfillment orders, supplier orders, requests, chargebacks,
    intents, money, alerts and the timeline.

    Alerts: the table lists the open ones (the resolved ones are counted; --json lists all, with
    resolved_at). Chargebacks: a lost one costs its amount plus the fee, as in `dropsync report exposure`.

    Line items are numbered: that number is LINE in every --items option (supplier link, cancel request,
    policy check).

    Examples: dropsync orders show '#1001' --shop acme ;  dropsync orders show gid://shopify/Order/1001 --json
    """
    with unit_of_work() as session:
        data = describe_order(session, resolve_order(session, order, shop=shop))
    data = at_currency_precision(data, data["order"]["currency"])
    if as_json:
        print_json(data)
        return
    _print_order(data)


def _print_order(data: dict[str, Any]) -> None:
    o = data["order"]
    state = f"CANCELLED ({o['cancel_reason']})" if o["cancelled_at"] else (o["fulfillment_status"] or "-")
    created = f"{o['created_at']:%Y-%m-%d %H:%M}"
    console.print(f"{o['name']}  {o['shop']}  {o['gid']}  created {created} UTC", style="bold", markup=False)
    payment = o["financial_status"] or "-"
    console.print(f"  payment {payment} · fulfillment {state} · customer {o['customer'] or '-'}", markup=False)
    console.print(f"  total {o['total']} {o['currency']} · refunded {o['refunded']} · outstanding {o['outstanding']}")
    for t in data["chargeback_totals"]:  # what the disputes took (lost) or hold (open), amount + fee
        taken = [f"lost {t['lost']} {t['currency']}"] if t["lost"] else []
        held = [f"at risk {t['at_risk']} {t['currency']}"] if t["at_risk"] else []
        if taken or held:
            console.print(f"  chargebacks: {' · '.join(taken + held)} (amount + fee)", markup=False)
    _print_section(
        "Line items",
        ("line", "sku", "title", "qty", "now", "unfulfilled", "unit price"),
        [
            (str(li["line"]), li["sku"] or "-", li["title"] + (f" ({li['variant']})" if li["variant"] else ""),
             str(li["quantity"]), str(li["current_quantity"]), str(li["unfulfilled_quantity"]),
             str(li["unit_price"]))
            for li in data["line_items"]
        ],
    )  # fmt: skip
    _print_section(
        "Fulfillment orders",
        ("fulfillment order", "status", "request", "location", "lines"),
        [
            (fo["gid"].rsplit("/", 1)[-1], fo["status"], fo["request_status"], fo["location"] or "-",
             ", ".join(map(str, fo["lines"])) or "-")
            for fo in data["fulfillment_orders"]
        ],
    )  # fmt: skip
    _print_section(
        "Supplier orders",
        ("supplier order", "status", "paid", "refunded", "tracking"),
        [
            (s["supplier_order_id"], s["status"], f"{s['amount_paid']} {s['currency']}", str(s["amount_refunded"]),
             ", ".join(s["tracking_numbers"]) or "-")
            for s in data["supplier_orders"]
        ],
    )  # fmt: skip
    _print_section(
        "Cancellation requests",
        ("id", "kind", "reason", "state", "policy", "refund"),
        [
            (str(r["id"]), r["kind"], r["reason"], r["state"], str(r["action"] or "-"), str(r["refund_total"] or "-"))
            for r in data["cancellation_requests"]
        ],
    )
    _print_section(
        "Returns",
        ("id", "source", "reason", "state", "shopify", "policy", "refunded"),
        [
            (str(r["id"]), r["source"], r["reason"], r["state"], str(r["shopify_status"] or "-"),
             str(r["action"] or "-"), f"{r['refunded']} {r['currency']}")
            for r in data["returns"]
        ],
    )  # fmt: skip
    _print_chargebacks(o["name"], data["chargebacks"])
    _print_section(
        "Evidence",
        ("for", "kind", "where", "by"),
        [(e["for"], e["kind"], e["reference"] or "-", e["recorded_by"] or "-") for e in data["evidence"]],
    )
    _print_section(
        "Shopify intents",
        ("id", "kind", "state", "attempts", "error"),
        [
            (str(i["id"]), i["kind"], i["state"], str(i["attempts"]), (i["last_error"] or "")[:60])
            for i in data["intents"]
        ],
    )
    _print_section(
        "Money",
        ("when", "kind", "amount"),
        [(f"{m['occurred_at']:%Y-%m-%d %H:%M}", m["kind"], f"{m['amount']} {m['currency']}") for m in data["money"]],
    )
    _print_alerts(data["alerts"])
    _print_section(
        "Timeline",
        ("when", "by", "what"),
        [(f"{e['at']:%Y-%m-%d %H:%M:%S}", e["actor"], e["message"]) for e in data["timeline"]],
    )


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _print_chargebacks(name: str, chargebacks: list[dict[str, Any]]) -> None:
    """Each dispute (its id is what ``--dispute`` takes), its reason, status, money and evidence, in cells
    stacked to fit an 80-column terminal. The money cell ends with what the dispute costs the store, amount +
    fee as ``report exposure`` counts it: "lost" once decided against the store, "at risk" while open."""

    def money(c: dict[str, Any]) -> str:
        if c["type"] != "CHARGEBACK":
            return f"{c['amount']} {c['currency']}"  # an inquiry: no money moved, no fee
        cost = f"lost {c['lost']}" if c["lost"] else (f"at risk {c['at_risk']}" if c["at_risk"] else "cost 0")
        return f"{c['amount']} {c['currency']}\n+ fee {c['fee']}\n{cost}"

    def evidence(c: dict[str, Any]) -> str:
        if c["evidence_sent_on"]:
            sent = f"sent {c['evidence_sent_on']:%Y-%m-%d}"
        else:
            sent = "submitted" if c["evidence_submitted"] else "not submitted"
        return f"due {_when(c['evidence_due_by'])}\n{sent}"

    _print_section(
        "Chargebacks",
        ("dispute", "status", "money", "evidence"),
        [
            (f"{c['dispute'].rsplit('/', 1)[-1]}\n{c['reason']}",
             c["status"] + ("\n(inquiry)" if c["type"] == "INQUIRY" else ""), money(c), evidence(c))
            for c in chargebacks
        ],
    )  # fmt: skip
    if chargebacks:
        console.print(f"  evidence and advice: dropsync chargebacks show '{name}'", markup=False)


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    """The open alerts; the resolved ones only counted (``--json`` lists them with ``resolved_at``): an alert
    resolved long ago must not read as a deadline still running."""
    open_ = [a for a in alerts if a["resolved_at"] is None]
    resolved = len(alerts) - len(open_)
    also = f" ({resolved} resolved, not shown: --json lists them)" if resolved else ""
    if not open_:
        console.print(f"Alerts: none open{also}" if resolved else "Alerts: none", markup=False)
        return
    _print_section(
        f"Alerts (open){also}",
        ("raised", "kind", "severity", "message"),
        [(_when(a["raised_at"]), a["kind"], a["severity"], a["message"]) for a in open_],
    )


def _print_section(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(*headers, title=title, title_justify="left")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: messages may hold "[…]" that markup would eat
    console.print(table)
