"""The Shopify return mutations an intent performs, and how an earlier attempt's effect is recognised.

Carried out by the cancellation workflow's executor (``worker.cancellation.execution.execute_intent``:
claim, read first after a crash or a lost answer, perform, record), whose table
(``worker.cancellation.actions.PERFORMERS``) hands the ``return_*`` kinds here. ``perform`` sends the
intent's stored ``params`` (computed once, before the first attempt); the ``return_<done>`` readers read
the return (or the order's returns) and return the ids an earlier attempt created, else ``None``.

None of these mutations takes an ``@idempotent`` key. What makes each exactly-once:

- ``return_approve`` / ``return_decline`` / ``return_close``: a status change; a return already OPEN /
  DECLINED / CLOSED is adopted, never changed again;
- ``return_create``: the line notes carry the intent key; an order return carrying it is adopted;
- ``return_process`` (moves money): the refund's note carries the intent key, and the intent stores the
  return's processed units and refund ids as they were when it was planned. A refund carrying the key means
  an earlier attempt applied: adopted, never resent. Any other new refund or newly processed unit was made
  by someone else (Shopify's admin): neither adopted nor followed by ours; the return goes to a person.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import raise_for_user_errors
from models import ShopifyIntent
from worker.cancellation.errors import NotConfirmed
from worker.cancellation.intents import IntentKind, Outcome, refund_marker
from worker.returns.view import parse_return, read_return, read_returnables


def _create_variables(p: dict[str, Any]) -> dict[str, Any]:
    return {"returnInput": {"orderId": p["order_gid"], "returnLineItems": p["lines"]}}


def _approve_variables(p: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"id": p["return_gid"], "notifyCustomer": bool(p.get("notify"))}}


def _decline_variables(p: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"id": p["return_gid"], "declineReason": p["reason"], "declineNote": p["note"],
                      "notifyCustomer": bool(p.get("notify"))}}  # fmt: skip


def _process_variables(p: dict[str, Any]) -> dict[str, Any]:
    return {"input": process_input(p)}


def _close_variables(p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["return_gid"]}


#: Per kind: the GraphQL document, its payload field, and its variables from the intent's stored params.
_DOCUMENTS: dict[str, tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    IntentKind.RETURN_CREATE: ("ReturnCreate", "returnCreate", _create_variables),
    IntentKind.RETURN_APPROVE: ("ReturnApproveRequest", "returnApproveRequest", _approve_variables),
    IntentKind.RETURN_DECLINE: ("ReturnDeclineRequest", "returnDeclineRequest", _decline_variables),
    IntentKind.RETURN_PROCESS: ("ReturnProcess", "returnProcess", _process_variables),
    IntentKind.RETURN_CLOSE: ("ReturnClose", "returnClose", _close_variables),
}


def variables(intent: ShopifyIntent) -> dict[str, Any]:
    return _DOCUMENTS[intent.kind][2](intent.params)


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
    document, field, _ = _DOCUMENTS[intent.kind]
    # returnProcess has no idempotency key: if this succeeds and the answer or our commit is lost, the
    # executor's read-first (existing_effect) finds the refund with our key on the return and adopts it;
    # never resent blind.
    data = client.execute(document, variables(intent))
    payload = data[field]
    raise_for_user_errors(payload, operation=field)
    node = (payload or {}).get("return") or {}
    if not node.get("id"):
        return Outcome([])
    if intent.kind == IntentKind.RETURN_PROCESS:
        ours = parse_return(node).refund_with_note(refund_marker(intent))
        return Outcome([ours.gid if ours is not None else node["id"]])
    return Outcome([node["id"]])


def return_created(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """The order's return whose line notes carry this intent's key, if an earlier attempt created it."""
    found = read_returnables(client, intent.params["order_gid"]).return_marked(refund_marker(intent))
    return [found.gid] if found else None


def _return_in(client: ShopifyClient, intent: ShopifyIntent, statuses: tuple[str, ...]) -> list[str] | None:
    view = read_return(client, intent.params["return_gid"])
    return [view.gid] if view.status in statuses else None


def return_approved(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    return _return_in(client, intent, ("OPEN", "CLOSED"))


def return_declined(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    return _return_in(client, intent, ("DECLINED",))


def return_closed(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    return _return_in(client, intent, ("CLOSED",))


def return_processed(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """The refund whose note carries this intent's key: an earlier attempt applied; adopt it, never resend.

    Raises ``ProcessedOutsideDropsync`` when the return shows any other change since the intent was planned.
    """
    p = intent.params
    view = read_return(client, p["return_gid"])
    ours = view.refund_with_note(refund_marker(intent))
    if ours is not None:
        return [ours.gid]
    before = set(p.get("refunds_before") or [])
    others = [r for r in view.refunds if r.gid not in before]
    processed_before = int(p.get("processed_before") or 0)
    if others or view.processed_units > processed_before:
        refunded = sum((r.amount for r in others), Decimal(0))
        raise ProcessedOutsideDropsync(
            f"someone else processed or refunded return {view.gid} since dropsync planned its refund "
            f"({len(others)} refund(s) of {refunded} {p.get('currency') or ''} without dropsync's key "
            f"{refund_marker(intent)}, {view.processed_units - processed_before} more unit(s) processed): "
            "dropsync did not refund it and will not; check what the customer got"
        )
    return None


class ProcessedOutsideDropsync(NotConfirmed):
    """The return shows a refund without this intent's key or more processed units (someone processed it in
    Shopify's admin, e.g. after our attempt failed): not ours to adopt (the ledger would record our planned
    amount as refunded), and sending ours too could refund the customer twice. The executor fails the
    intent and the return goes to a person (``needs_operator`` and an alert); nothing is sent.
    """
