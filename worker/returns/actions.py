"""The Shopify return mutations an intent performs, and how an earlier attempt's effect is recognised.

Carried out by the cancellation workflow's executor (``worker.cancellation.execution.execute_intent``:
claim, read first after a crash or a lost answer, perform, record), which hands the ``return_*`` kinds
here. Each ``perform`` sends the intent's stored ``params`` (computed once, before the first attempt);
``existing_effect`` reads the return (or the order's returns) and returns the ids an earlier attempt
created, else ``None``.

None of these mutations takes an ``@idempotent`` key. What makes each exactly-once:

- ``return_approve`` / ``return_decline`` / ``return_close``: a status change; a return already OPEN /
  DECLINED / CLOSED is adopted, never changed again;
- ``return_create``: the line notes carry the intent key; an order return carrying it is adopted;
- ``return_process`` (moves money): the intent stores the return's processed units and refund ids as they
  were when it was planned, and the refund's note carries the intent key; any new refund or any newly
  processed unit on the return means an earlier attempt applied, and it is adopted, never resent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import raise_for_user_errors
from models import ShopifyIntent
from worker.cancellation.intents import Outcome, refund_marker
from worker.returns.view import parse_return, read_return, read_returnables

RETURN_CREATE = "return_create"
RETURN_APPROVE = "return_approve"
RETURN_DECLINE = "return_decline"
RETURN_PROCESS = "return_process"
RETURN_CLOSE = "return_close"
KINDS = (RETURN_CREATE, RETURN_APPROVE, RETURN_DECLINE, RETURN_PROCESS, RETURN_CLOSE)

_DOCUMENTS = {
    RETURN_CREATE: ("ReturnCreate", "returnCreate"),
    RETURN_APPROVE: ("ReturnApproveRequest", "returnApproveRequest"),
    RETURN_DECLINE: ("ReturnDeclineRequest", "returnDeclineRequest"),
    RETURN_PROCESS: ("ReturnProcess", "returnProcess"),
    RETURN_CLOSE: ("ReturnClose", "returnClose"),
}


def handles(kind: str) -> bool:
    return kind in KINDS


def variables(intent: ShopifyIntent) -> dict[str, Any]:
    p = intent.params
    if intent.kind == RETURN_CREATE:
        return {"returnInput": {"orderId": p["order_gid"], "returnLineItems": p["lines"]}}
    if intent.kind == RETURN_APPROVE:
        return {"input": {"id": p["return_gid"], "notifyCustomer": bool(p.get("notify"))}}
    if intent.kind == RETURN_DECLINE:
        return {"input": {"id": p["return_gid"], "declineReason": p["reason"], "declineNote": p["note"],
                          "notifyCustomer": bool(p.get("notify"))}}  # fmt: skip
    if intent.kind == RETURN_PROCESS:
        return {"input": process_input(p)}
    return {"id": p["return_gid"]}


def process_input(p: dict[str, Any]) -> dict[str, Any]:
    """returnProcess's input from the intent's stored params (the same on every attempt)."""
    data: dict[str, Any] = {
        "returnId": p["return_gid"], "returnLineItems": p["lines"], "note": p["note"],
        "notifyCustomer": bool(p.get("notify")),
    }  # fmt: skip
    if p.get("transactions"):
        data["financialTransfer"] = {"issueRefund": {"orderTransactions": p["transactions"]}}
    if Decimal(str(p.get("shipping") or "0")) > 0:
        data["refundShipping"] = {"shippingRefundAmount": {"amount": p["shipping"], "currencyCode": p["currency"]}}
    return data


def perform(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    """Send the intent's mutation. Raises the client's errors; a lost answer is ``ShopifyOutcomeUnknown``."""
    document, field = _DOCUMENTS[intent.kind]
    # returnProcess has no idempotency key: if this succeeds and the answer or our commit is lost, the
    # executor's read-first (existing_effect) finds the refund on the return and adopts it; never resent blind.
    data = client.execute(document, variables(intent))
    payload = data[field]
    raise_for_user_errors(payload, operation=field)
    node = (payload or {}).get("return") or {}
    if not node.get("id"):
        return Outcome([])
    if intent.kind == RETURN_PROCESS:
        view = parse_return(node)
        before = set(intent.params.get("refunds_before") or [])
        return Outcome([r.gid for r in view.refunds if r.gid not in before] or [view.gid])
    return Outcome([node["id"]])


def existing_effect(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """What an earlier attempt already did on Shopify (ids), or ``None`` when nothing is there."""
    p = intent.params
    if intent.kind == RETURN_CREATE:
        found = read_returnables(client, p["order_gid"]).return_marked(refund_marker(intent))
        return [found.gid] if found else None
    view = read_return(client, p["return_gid"])
    if intent.kind == RETURN_APPROVE:
        return [view.gid] if view.status in ("OPEN", "CLOSED") else None
    if intent.kind == RETURN_DECLINE:
        return [view.gid] if view.status == "DECLINED" else None
    if intent.kind == RETURN_CLOSE:
        return [view.gid] if view.status == "CLOSED" else None
    before = set(p.get("refunds_before") or [])
    new_refunds = [r.gid for r in view.refunds if r.gid not in before]
    if new_refunds or view.refund_with_note(refund_marker(intent)) is not None:
        return new_refunds or [view.gid]
    if view.processed_units > int(p.get("processed_before") or 0):
        return [view.gid]  # processed with no refund (nothing owed), or the refund is not listed yet
    return None
