"""``dropsync cancel``: request a cancellation (the policy decides first), follow it, withdraw it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CancellationRequest, Order, ShopifyIntent
from worker.cancellation import service
from worker.cancellation import states as s
from worker.cancellation.errors import RequestNotFound
from worker.cli.common import SHOP, console, print_history, print_json, unit_of_work
from worker.cli.supplier import actor
from worker.errors import UsageError
from worker.orders import resolve_numbered, resolve_order, shop_domain
from worker.policy import Reason
from worker.policy.adapters import parse_items
from worker.policy.decision import Decision
from worker.returns.evidence import parse_evidence

app = typer.Typer(help="Cancellation requests: request, status, withdraw, approve, resume.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _reason(value: str) -> str:
    try:
        return Reason(value.strip().lower()).value
    except ValueError:
        names = ", ".join(r.value for r in Reason)
        raise UsageError(f"--reason: unknown reason {value!r} (one of: {names})") from None


def find_request(session: Session, ref: str, shop: str | None = None) -> CancellationRequest:
    """A request id (``7`` or ``request:7``), or an order reference (its latest request); a bare number that
    is also an order is refused (``worker.orders.resolve_numbered``)."""
    ref = ref.strip()
    if not shop:
        found = resolve_numbered(session, ref, CancellationRequest, "request", lambda request: request.order_id)
        if found is not None:
            return found
    order = resolve_order(session, ref, shop=shop)
    requests = service.requests_for_order(session, order.id)
    if not requests:
        raise RequestNotFound(f"{order.name} has no cancellation request")
    return requests[-1]


def describe(session: Session, request: CancellationRequest) -> dict[str, Any]:
    intents = session.scalars(
        select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request.id).order_by(ShopifyIntent.id)
    ).all()
    decision = Decision.stored(request.policy_decision)
    order = session.get_one(Order, request.order_id)
    return {
        "shop": shop_domain(session, request.shop_id), "order": order.name,
        "id": request.id, "order_id": request.order_id, "state": request.state,
        "state_label": s.LABELS.get(request.state, request.state), "kind": request.kind, "reason": request.reason,
        "items": request.items, "policy_version": request.policy_version,
        "action": decision and decision.action.value, "refund_total": decision and str(decision.refund_total),
        "currency": decision and decision.currency,
        "expected_supplier_recovery": decision and str(decision.expected_supplier_recovery),
        "reasons": list(decision.reasons) if decision else [], "history": request.state_history,
        "intents": [
            {"id": i.id, "kind": i.kind, "state": i.state, "attempts": i.attempts, "key": i.idempotency_key,
             "last_error": i.last_error, "result_ids": i.result_ids}
            for i in intents
        ],
    }  # fmt: skip


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    # An escalated request a person approved goes on as the rules computed: say who approved it.
    approvals = [h["actor"] for h in data["history"] if h["why"] == service.APPROVED]
    approved = f" (approved by {approvals[-1]})" if approvals else ""
    console.print(
        f"request {data['id']}: {data['state_label']} — policy says {data['action']}{approved}, "
        f"refund {data['refund_total']} {data['currency']}"
    )
    for why in data["reasons"]:
        console.print(f"  · {why}")
    print_history(data)


@app.command("request")
def request(
    order: str = typer.Argument(..., help="#1001, a numeric id or a GID."),
    reason: str = typer.Option(..., "--reason", help="changed_mind, out_of_stock, damaged, …"),
    items: str | None = typer.Option(
        None, "--items", help="LINE:QTY,… (LINE: the line number `orders show` prints, or a SKU; default: all)."
    ),
    note: str | None = typer.Option(None, "--note"),
    evidence: str | None = typer.Option(
        None,
        "--evidence",
        help="What the customer sent: photos,video,tracking,correspondence (KIND=where, e.g. "
        "photos=IMG_12.jpg). Stored with the request; the policy reads it.",
    ),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Open a request; the policy decides first. A denial is recorded and exits 1.

    Example: dropsync cancel request '#1001' --reason damaged --evidence photos
    """
    given = parse_evidence(evidence)
    with unit_of_work() as session:
        found = resolve_order(session, order, shop=shop)
        wanted = parse_items(found, items)
        created = service.create_request(
            session, found, reason=_reason(reason), items=wanted, actor=actor(), note=note, evidence=given
        )
        data = describe(session, created)
    _show(data, as_json)
    if data["state"] == s.DENIED:
        raise typer.Exit(1)


def _act(
    ref: str, change: Callable[[Session, CancellationRequest], None], as_json: bool, shop: str | None = None
) -> None:
    """One person's move on a request (withdraw, approve, resume), then the request as it stands."""
    with unit_of_work() as session:
        found = find_request(session, ref, shop)
        change(session, found)
        data = describe(session, found)
    _show(data, as_json)


@app.command("status")
def status(
    ref: str = typer.Argument(..., help="A request id (7, or request:7) or an order."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """A request: state, history, the policy's decision and its Shopify intents.

    Example: dropsync cancel status '#1001' --json
    """
    with unit_of_work() as session:
        data = describe(session, find_request(session, ref, shop))
    _show(data, as_json)


@app.command("withdraw")
def withdraw(
    ref: str = typer.Argument(..., help="A request id (7, or request:7) or an order."),
    why: str | None = typer.Option(None, "--why"),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Withdraw a request (refused once the Shopify action has started).

    Example: dropsync cancel withdraw '#1001' --why 'customer kept it'
    """
    _act(ref, lambda session, found: service.withdraw(session, found, actor(), why), as_json, shop)


@app.command("approve")
def approve(
    ref: str = typer.Argument(..., help="A request id (7, or request:7) or an order."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """Approve a request the policy escalated: it proceeds with the amounts the rules computed.

    Example: dropsync cancel approve '#1001'
    """
    _act(ref, lambda session, found: service.approve(session, found, actor()), as_json, shop)


@app.command("resume")
def resume(
    ref: str = typer.Argument(..., help="A request id (7, or request:7) or an order."),
    shop: str | None = SHOP,
    as_json: bool = JSON,
) -> None:
    """After fixing what a request handed to you needed: read Shopify again and carry on.

    Example: dropsync cancel resume '#1001'
    """
    _act(ref, lambda session, found: service.resume(session, found, actor()), as_json, shop)
