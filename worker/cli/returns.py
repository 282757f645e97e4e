"""``dropsync returns``: returns after shipment — request (the policy decides first), list, show, approve,
decline, goods received, resume, done (a person settles one handed to them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Order, RequestEvidence, ReturnCase, ShopifyIntent
from worker.cli.cancel import _reason
from worker.cli.common import console, print_history, print_json, unit_of_work
from worker.cli.supplier import actor
from worker.errors import NotFoundError
from worker.orders import resolve_numbered, resolve_order
from worker.policy.adapters import parse_items
from worker.policy.decision import Decision
from worker.returns import service
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence

app = typer.Typer(
    help="Returns after shipment: request, list, show, approve, decline, received, resume, done.", no_args_is_help=True
)
JSON = typer.Option(False, "--json", help="Machine-readable output.")
RETURN_REF = typer.Argument(..., help="A return id (7, or return:7), a Return GID or an order.")
EVIDENCE = typer.Option(
    None, "--evidence", help="What the customer sent: photos,video,tracking,correspondence (KIND=where allowed)."
)


def find_return(session: Session, ref: str) -> ReturnCase:
    """A return id (``7`` or ``return:7``), a Shopify return GID, or an order reference (its latest return);
    a bare number that is also an order is refused (``worker.orders.resolve_numbered``)."""
    ref = ref.strip()
    if (found := resolve_numbered(session, ref, ReturnCase, "return", lambda case: case.order_id)) is not None:
        return found
    if ref.startswith("gid://shopify/Return/"):
        by_gid = session.scalar(select(ReturnCase).where(ReturnCase.shopify_gid == ref))
        if by_gid is None:
            raise NotFoundError(f"no return {ref} in the ledger")
        return by_gid
    order = resolve_order(session, ref)
    cases = service.returns_for_order(session, order.id)
    if not cases:
        raise NotFoundError(f"{order.name} has no return")
    return cases[-1]


def describe(session: Session, case: ReturnCase) -> dict[str, Any]:
    intents = session.scalars(
        select(ShopifyIntent).where(ShopifyIntent.return_id == case.id).order_by(ShopifyIntent.id)
    ).all()
    evidence = session.scalars(select(RequestEvidence).where(RequestEvidence.return_id == case.id)).all()
    titles = service.line_titles(session, case)
    decision = Decision.stored(case.policy_decision)
    order_name = session.scalar(select(Order.name).where(Order.id == case.order_id))
    return {
        "id": case.id, "order": order_name, "order_id": case.order_id, "shopify_gid": case.shopify_gid,
        "name": case.name, "shopify_status": case.shopify_status, "state": case.state,
        "state_label": rs.LABELS.get(case.state, case.state), "source": case.source, "reason": case.reason,
        "shopify_reason": case.shopify_reason, "verdict": case.verdict, "keep_item": case.keep_item,
        "goods_back": bool(decision and decision.return_required) and not case.keep_item,
        "goods_received_at": case.goods_received_at,
        "action": decision and decision.action.value, "refund_planned": decision and str(decision.refund_total),
        "refunded": str(case.refund_total), "currency": case.currency,
        "expected_supplier_recovery": decision and str(decision.expected_supplier_recovery),
        "decline_reason": case.decline_reason, "decline_note": case.decline_note,
        "policy_version": case.policy_version, "reasons": list(decision.reasons) if decision else [],
        "lines": [{"line_item_id": line.line_item_id, "title": titles.get(line.line_item_id, ""),
                   "quantity": line.quantity, "processed": line.processed_quantity} for line in case.lines],
        "evidence": [{"kind": e.kind, "reference": e.reference} for e in evidence],
        "history": case.state_history,
        "intents": [{"id": i.id, "kind": i.kind, "state": i.state, "attempts": i.attempts, "key": i.idempotency_key,
                     "last_error": i.last_error, "result_ids": i.result_ids} for i in intents],
    }  # fmt: skip


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    goods = "goods come back" if data["goods_back"] else "customer keeps the goods"
    console.print(
        f"return {data['id']} on {data['order']} ({data['source']}, {data['reason']}): {data['state_label']} — "
        f"policy says {data['action']}, refund {data['refund_planned']} {data['currency']} ({goods}); "
        f"refunded {data['refunded']}"
    )
    for why in data["reasons"]:
        console.print(f"  · {why}")
    if data["evidence"]:
        console.print("  evidence: " + ", ".join(e["kind"] + (f" ({e['reference']})" if e["reference"] else "")
                                                 for e in data["evidence"]))  # fmt: skip
    for line in data["lines"]:
        console.print(
            f"  line {line['line_item_id']} {line['title']}: {line['quantity']} (processed {line['processed']})"
        )
    print_history(data)


@app.command("request")
def request(
    order: str = typer.Argument(..., help="#1001, a numeric id or a GID."),
    reason: str = typer.Option(..., "--reason", help="damaged, not_as_described, wrong_size, …"),
    items: str | None = typer.Option(None, "--items", help="LINE:QTY,… (default: every unit not refunded)."),
    evidence: str | None = EVIDENCE,
    keep_item: bool = typer.Option(False, "--keep-item", help="The customer keeps the goods: refund at once."),
    note: str | None = typer.Option(None, "--note"),
    as_json: bool = JSON,
) -> None:
    """Open a return; the policy decides first, then the return is created on Shopify (returnCreate).
    A denial is recorded and exits 1; an escalation waits for `dropsync returns approve`.

    Example: dropsync returns request '#1001' --reason damaged --items 1:1 --evidence photos --keep-item
    """
    given = parse_evidence(evidence)
    with unit_of_work() as session:
        found = resolve_order(session, order)
        wanted = parse_items(found, items)
        case = service.request_return(
            session, found, reason=_reason(reason), items=wanted, evidence=given, keep_item=keep_item, actor=actor(),
            note=note,
        )  # fmt: skip
        data = describe(session, case)
    _show(data, as_json)
    if data["state"] == rs.DENIED:
        raise typer.Exit(1)


@app.command("list")
def list_returns(
    state: str | None = typer.Option(None, "--state", help="Only returns in this state (e.g. needs_approval)."),
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = JSON,
) -> None:
    """Returns, newest first.

    Example: dropsync returns list --state needs_approval
    """
    if state is not None and state not in rs.LABELS:
        from worker.errors import UsageError

        raise UsageError(f"--state: unknown state {state!r} (one of: {', '.join(rs.LABELS)})")
    with unit_of_work() as session:
        query = select(ReturnCase, Order.name).join(Order, Order.id == ReturnCase.order_id)
        if state is not None:
            query = query.where(ReturnCase.state == state)
        rows = session.execute(query.order_by(ReturnCase.id.desc()).limit(limit)).all()
        data = [{"id": c.id, "order": name, "state": c.state, "source": c.source, "reason": c.reason,
                 "shopify_status": c.shopify_status, "refunded": str(c.refund_total), "currency": c.currency}
                for c, name in rows]  # fmt: skip
    if as_json:
        print_json(data)
        return
    table = Table("id", "order", "state", "source", "reason", "shopify", "refunded")
    for r in data:
        table.add_row(str(r["id"]), str(r["order"]), str(r["state"]), str(r["source"]), str(r["reason"]),
                      str(r["shopify_status"] or ""), f"{r['refunded']} {r['currency']}")  # fmt: skip
    console.print(table)


@app.command("show")
def show(ref: str = RETURN_REF, as_json: bool = JSON) -> None:
    """One return: state, the policy's decision, lines, evidence, history and its Shopify intents.

    Example: dropsync returns show '#1001'
    """
    with unit_of_work() as session:
        data = describe(session, find_return(session, ref))
    _show(data, as_json)


def _act(ref: str, change: Callable[[Session, ReturnCase], None], as_json: bool) -> None:
    with unit_of_work() as session:
        found = find_return(session, ref)
        change(session, found)
        data = describe(session, found)
    _show(data, as_json)


@app.command("approve")
def approve(
    ref: str = RETURN_REF,
    evidence: str | None = EVIDENCE,
    as_json: bool = JSON,
) -> None:
    """Approve a return the policy escalated (with evidence the customer sent since, decided again).

    Example: dropsync returns approve '#1001' --evidence photos
    """
    given = parse_evidence(evidence)
    _act(ref, lambda session, found: service.approve(session, found, actor(), given), as_json)


@app.command("decline")
def decline(
    ref: str = RETURN_REF,
    why: str = typer.Option(..., "--why", help="The note the customer reads."),
    as_json: bool = JSON,
) -> None:
    """Decline a return the policy escalated (on Shopify with your note; an operator's return is dropped).

    Example: dropsync returns decline '#1001' --why 'outside the return window'
    """
    _act(ref, lambda session, found: service.decline(session, found, actor(), why), as_json)


@app.command("received")
def received(ref: str = RETURN_REF, as_json: bool = JSON) -> None:
    """The goods came back to the return address: the refund goes ahead.

    Example: dropsync returns received '#1001'
    """
    _act(ref, lambda session, found: service.goods_received(session, found, actor()), as_json)


@app.command("resume")
def resume(ref: str = RETURN_REF, as_json: bool = JSON) -> None:
    """After fixing what a return handed to you needed: read Shopify again and carry on.

    Example: dropsync returns resume '#1001'
    """
    _act(ref, lambda session, found: service.resume(session, found, actor()), as_json)


@app.command("done")
def done(
    ref: str = RETURN_REF,
    why: str = typer.Option(..., "--why", help="What was done (kept on the return's history)."),
    as_json: bool = JSON,
) -> None:
    """End a return handed to you as done, nothing left for dropsync on Shopify (e.g. it was refunded and
    closed in Shopify's admin).

    Example: dropsync returns done 7 --why 'refunded 12.00 in the admin, closed'
    """
    _act(ref, lambda session, found: service.settle(session, found, actor(), why), as_json)
