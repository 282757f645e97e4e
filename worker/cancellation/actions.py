"""The Shopify mutations an intent performs, and how an earlier attempt's effect is recognised.

``PERFORMERS`` says, for every intent kind, what carries it out. Its ``perform`` sends the intent's stored
``params`` (computed once, before the first attempt, so a resent refundCreate carries exactly the input
its idempotency key was first used with) and returns the ids of what Shopify created. Its
``existing_effect`` reads Shopify and returns those ids if an earlier attempt (whose answer was lost, or
whose worker died) already applied the intent, else ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyError, ShopifyOutcomeUnknown, raise_for_user_errors
from models import ShopifyIntent
from worker.cancellation.errors import NotConfirmed
from worker.cancellation.intents import IntentKind, Outcome, refund_marker
from worker.cancellation.shopify_view import OrderView, read_order
from worker.chargebacks import submission
from worker.mirror.reconcile import read_for_mirror
from worker.money import wire_amount

# The returns workflow's intents (return_*) and chargeback evidence run through the same executor; their
# mutations live there (PERFORMERS below lists every kind).
from worker.returns import actions as return_actions

JOB_TIMEOUT_SECONDS = 30.0


class JobStillRunning(Exception):
    """orderCancel's job did not finish in time: the outcome is not known yet (the job id is kept)."""

    def __init__(self, job_gid: str) -> None:
        super().__init__(f"orderCancel job {job_gid} still running")
        self.job_gid = job_gid


def order_cancel_variables(intent: ShopifyIntent) -> dict[str, Any]:
    p = intent.params
    variables: dict[str, Any] = {
        "orderId": p["order_gid"],
        "reason": p.get("reason") or "CUSTOMER",
        "restock": bool(p.get("restock", True)),
        "notifyCustomer": bool(p.get("notify_customer", False)),
        "staffNote": p.get("staff_note"),
    }
    if p.get("refund"):
        # orderCancel refunds by itself here: never pair it with a refundCreate for the same money.
        variables["refundMethod"] = {"originalPaymentMethodsRefund": True}
    return variables


def _order_cancel(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    data = client.execute("OrderCancel", order_cancel_variables(intent))
    payload = data["orderCancel"]
    raise_for_user_errors(payload, key="orderCancelUserErrors", operation="orderCancel")
    job = (payload or {}).get("job") or {}
    job_gid = job.get("id")
    try:
        if job_gid and not job.get("done") and not client.wait_for_job(job_gid, timeout=JOB_TIMEOUT_SECONDS):
            raise JobStillRunning(job_gid)
        # One read confirms cancelledAt and feeds the mirror (OrderById carries both; every line).
        node = read_for_mirror(client, intent.params["order_gid"])
    except ShopifyError as exc:
        # Shopify accepted the cancel; only its confirmation failed (throttled, timed out): that is an
        # unknown outcome, never "not applied" — the next attempt reads the order before anything else.
        raise ShopifyOutcomeUnknown("orderCancel", exc) from exc
    if not node or not node.get("cancelledAt"):
        raise NotConfirmed(f"orderCancel job {job_gid} finished but Shopify does not show the order cancelled")
    return Outcome([node["id"]], job_gid, node)


def _order_cancelled(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    view = read_order(client, intent.params["order_gid"])
    if view.cancelled:
        return [view.gid]
    if intent.job_gid and not _job_done(client, intent.job_gid):
        raise JobStillRunning(intent.job_gid)
    return None


def _refund_create(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    # @idempotent with the intent's key: if this succeeds but the answer (or our commit) is lost, the
    # resend returns the original refund instead of refunding twice.
    data = client.execute("RefundCreate", {"input": intent.params["input"], "idempotencyKey": intent.idempotency_key})
    payload = data["refundCreate"]
    raise_for_user_errors(payload, operation="refundCreate")
    refund = (payload or {}).get("refund") or {}
    return Outcome([refund["id"]] if refund.get("id") else [])


def _refund_found(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    found = read_order(client, intent.params["order_gid"]).refund_with_note(refund_marker(intent))
    return [found.gid] if found else None


def _fulfillment_order_cancel(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    data = client.execute("FulfillmentOrderCancel", {"id": intent.params["fulfillment_order_gid"]})
    raise_for_user_errors(data["fulfillmentOrderCancel"], operation="fulfillmentOrderCancel")
    return Outcome([intent.params["fulfillment_order_gid"]])


def _fulfillment_order_withdrawn(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    found = _fulfillment_order(client, intent)
    if found is not None and (not found[1] or found[2] == "UNSUBMITTED"):
        return [found[0]]
    return None


def _cancellation_request(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    variables = {"id": intent.params["fulfillment_order_gid"], "message": intent.params.get("message")}
    data = client.execute("FulfillmentOrderSubmitCancellationRequest", variables)
    payload = data["fulfillmentOrderSubmitCancellationRequest"]
    raise_for_user_errors(payload, operation="fulfillmentOrderSubmitCancellationRequest")
    return Outcome([intent.params["fulfillment_order_gid"]])


_CANCELLATION_ASKED = ("CANCELLATION_REQUESTED", "CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED")


def _cancellation_requested(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    found = _fulfillment_order(client, intent)
    if found is not None and (found[2] in _CANCELLATION_ASKED or not found[1]):
        return [found[0]]
    return None


def _fulfillment_order(client: ShopifyClient, intent: ShopifyIntent) -> tuple[str, bool, str] | None:
    """The intent's fulfillment order as Shopify shows it now: ``(gid, open, request status)``, or ``None``."""
    view = read_order(client, intent.params["order_gid"])
    gid = intent.params["fulfillment_order_gid"]
    return next(((f.gid, f.open, f.request_status.upper()) for f in view.fulfillment_orders if f.gid == gid), None)


def _evidence_update(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    return Outcome(submission.perform(client, intent))


@dataclass(frozen=True)
class Performer:
    """What one intent kind does on Shopify.

    ``perform`` sends the intent's stored params and returns what Shopify created (raises the client's
    errors, ``JobStillRunning``, ``NotConfirmed``); ``existing_effect`` reads Shopify and returns the ids
    an earlier attempt already created, or ``None`` when nothing is there.
    """

    perform: Callable[[ShopifyClient, ShopifyIntent], Outcome]
    existing_effect: Callable[[ShopifyClient, ShopifyIntent], list[str] | None]


#: Every intent kind and what carries it out: the executor (and sweeper) run all of them the same way.
PERFORMERS: dict[IntentKind, Performer] = {
    IntentKind.ORDER_CANCEL: Performer(_order_cancel, _order_cancelled),
    IntentKind.REFUND_CREATE: Performer(_refund_create, _refund_found),
    IntentKind.FULFILLMENT_ORDER_CANCEL: Performer(_fulfillment_order_cancel, _fulfillment_order_withdrawn),
    IntentKind.CANCELLATION_REQUEST: Performer(_cancellation_request, _cancellation_requested),
    IntentKind.RETURN_CREATE: Performer(return_actions.perform, return_actions.return_created),
    IntentKind.RETURN_APPROVE: Performer(return_actions.perform, return_actions.return_approved),
    IntentKind.RETURN_DECLINE: Performer(return_actions.perform, return_actions.return_declined),
    IntentKind.RETURN_PROCESS: Performer(return_actions.perform, return_actions.return_processed),
    IntentKind.RETURN_CLOSE: Performer(return_actions.perform, return_actions.return_closed),
    IntentKind.DISPUTE_EVIDENCE_UPDATE: Performer(_evidence_update, submission.existing_effect),
}


def performer(intent: ShopifyIntent) -> Performer:
    try:
        return PERFORMERS[IntentKind(intent.kind)]
    except (ValueError, KeyError):
        raise ValueError(f"unknown intent kind {intent.kind!r}") from None


def perform(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    """Send the intent's mutation. Raises the client's errors (see module doc)."""
    return performer(intent).perform(client, intent)


def existing_effect(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """What an earlier attempt already did on Shopify (ids), or ``None`` when nothing is there.

    Raises ``JobStillRunning`` for an orderCancel whose recorded job is still running: neither adopt nor
    resend (a second orderCancel could start a second refund).
    """
    return performer(intent).existing_effect(client, intent)


def _job_done(client: ShopifyClient, job_gid: str) -> bool:
    job = client.execute("JobById", {"id": job_gid})["job"]
    return job is None or bool(job.get("done"))


def refund_input(
    client: ShopifyClient,
    view: OrderView,
    *,
    lines: list[dict[str, Any]],
    shipping: Decimal,
    total: Decimal,
    note: str,
    notify: bool,
) -> tuple[dict[str, Any], Decimal]:
    """refundCreate's input for ``lines`` (``{"line_gid", "quantity", "restock"}``) and ``shipping``, moving
    at most ``total`` (the policy's amount), never more than Shopify's suggestion or what is refundable.

    Returns ``(input, amount actually refunded)``. The amounts come from ``suggestedRefund`` (Shopify
    computes tax and discounts per unit) and are spread over its suggested parent transactions; a
    money-only refund (no lines, no shipping) takes the order's payments as parents.
    """
    restock = "NO_RESTOCK" if view.shipped else "CANCEL"
    refund_lines = [
        {
            "lineItemId": li["line_gid"],
            "quantity": int(li["quantity"]),
            "restockType": restock if li.get("restock") else "NO_RESTOCK",
        }
        for li in lines
        if int(li["quantity"]) > 0
    ]
    variables: dict[str, Any] = {"id": view.gid, "refundLineItems": [
        {"lineItemId": li["lineItemId"], "quantity": li["quantity"]} for li in refund_lines
    ]}  # fmt: skip
    if shipping > 0:
        variables["shippingAmount"] = wire_amount(shipping, view.currency)
    cap = min(total, view.refundable)
    suggested: dict[str, Any] = {}
    if not refund_lines and shipping <= 0:
        # Money only (the order was cancelled without its refund): parents straight from the order's
        # payments, each at most what is left on it.
        candidates = [(p.gid, p.gateway, left) for p, left in view.refundable_parents()]
    else:
        suggested = client.execute("SuggestedRefund", variables)["order"]["suggestedRefund"]
        candidates = [
            (t["parentTransaction"]["id"], t["gateway"], Decimal(str(t["amountSet"]["shopMoney"]["amount"])))
            for t in suggested.get("suggestedTransactions") or []
        ]
    transactions, moved = [], Decimal(0)
    for parent_gid, gateway, available in candidates:
        take = Decimal(wire_amount(min(available, cap - moved), view.currency))
        if take <= 0:
            break
        transactions.append({"parentId": parent_gid, "amount": str(take), "gateway": gateway, "kind": "REFUND",
                             "orderId": view.gid})  # fmt: skip
        moved += take
    refund: dict[str, Any] = {
        "orderId": view.gid, "note": note, "notify": notify, "refundLineItems": refund_lines,
        "transactions": transactions,
    }  # fmt: skip
    if shipping > 0:
        shipping_max = Decimal(str(((suggested.get("shipping") or {}).get("maximumRefundableSet") or {})
                                   .get("shopMoney", {}).get("amount", "0")))  # fmt: skip
        refund["shipping"] = {"amount": wire_amount(min(shipping, shipping_max), view.currency)}
    return refund, moved
