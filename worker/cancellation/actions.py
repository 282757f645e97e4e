"""The Shopify mutations an intent performs, and how an earlier attempt's effect is recognised.

Each ``perform_*`` sends the intent's stored ``params`` (computed once, before the first attempt, so a
resent refundCreate carries exactly the input its idempotency key was first used with) and returns the
ids of what Shopify created. Each ``existing_effect`` reads Shopify and returns those ids if an earlier
attempt (whose answer was lost, or whose worker died) already applied the intent, else ``None``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyError, ShopifyOutcomeUnknown, raise_for_user_errors
from models import ShopifyIntent
from worker.cancellation import intents as ik
from worker.cancellation.intents import DISPUTE_EVIDENCE_UPDATE, Outcome, refund_marker
from worker.cancellation.shopify_view import OrderView, read_order
from worker.chargebacks import submission
from worker.money import wire_amount

# The returns workflow's intents (return_*) run through the same executor; their mutations live there.
from worker.returns import actions as return_actions

JOB_TIMEOUT_SECONDS = 30.0
#: Chargeback evidence (worker.chargebacks.submission) runs through the same executor.


class JobStillRunning(Exception):
    """orderCancel's job did not finish in time: the outcome is not known yet (the job id is kept)."""

    def __init__(self, job_gid: str) -> None:
        super().__init__(f"orderCancel job {job_gid} still running")
        self.job_gid = job_gid


class NotConfirmed(Exception):
    """The mutation answered but Shopify does not show its effect (e.g. the cancel job finished, no
    ``cancelledAt``): a person looks."""


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


def perform(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    """Send the intent's mutation. Raises the client's errors (see module doc)."""
    if intent.kind == DISPUTE_EVIDENCE_UPDATE:
        return Outcome(submission.perform(client, intent))
    if return_actions.handles(intent.kind):
        return return_actions.perform(client, intent)
    if intent.kind == ik.ORDER_CANCEL:
        return _order_cancel(client, intent)
    if intent.kind == ik.REFUND_CREATE:
        return Outcome(_refund_create(client, intent))
    if intent.kind == ik.FULFILLMENT_ORDER_CANCEL:
        data = client.execute("FulfillmentOrderCancel", {"id": intent.params["fulfillment_order_gid"]})
        payload = data["fulfillmentOrderCancel"]
        raise_for_user_errors(payload, operation="fulfillmentOrderCancel")
        return Outcome([intent.params["fulfillment_order_gid"]])
    if intent.kind == ik.CANCELLATION_REQUEST:
        variables = {"id": intent.params["fulfillment_order_gid"], "message": intent.params.get("message")}
        data = client.execute("FulfillmentOrderSubmitCancellationRequest", variables)
        payload = data["fulfillmentOrderSubmitCancellationRequest"]
        raise_for_user_errors(payload, operation="fulfillmentOrderSubmitCancellationRequest")
        return Outcome([intent.params["fulfillment_order_gid"]])
    raise ValueError(f"unknown intent kind {intent.kind!r}")


def _order_cancel(client: ShopifyClient, intent: ShopifyIntent) -> Outcome:
    data = client.execute("OrderCancel", order_cancel_variables(intent))
    payload = data["orderCancel"]
    raise_for_user_errors(payload, key="orderCancelUserErrors", operation="orderCancel")
    job = (payload or {}).get("job") or {}
    job_gid = job.get("id")
    try:
        if job_gid and not job.get("done") and not client.wait_for_job(job_gid, timeout=JOB_TIMEOUT_SECONDS):
            raise JobStillRunning(job_gid)
        # One read confirms cancelledAt and feeds the mirror (OrderById carries both).
        node = client.execute("OrderById", {"id": intent.params["order_gid"]})["order"]
    except ShopifyError as exc:
        # Shopify accepted the cancel; only its confirmation failed (throttled, timed out): that is an
        # unknown outcome, never "not applied" — the next attempt reads the order before anything else.
        raise ShopifyOutcomeUnknown("orderCancel", exc) from exc
    if not node or not node.get("cancelledAt"):
        raise NotConfirmed(f"orderCancel job {job_gid} finished but Shopify does not show the order cancelled")
    return Outcome([node["id"]], job_gid, node)


def _refund_create(client: ShopifyClient, intent: ShopifyIntent) -> list[str]:
    # @idempotent with the intent's key: if this succeeds but the answer (or our commit) is lost, the
    # resend returns the original refund instead of refunding twice.
    data = client.execute("RefundCreate", {"input": intent.params["input"], "idempotencyKey": intent.idempotency_key})
    payload = data["refundCreate"]
    raise_for_user_errors(payload, operation="refundCreate")
    refund = (payload or {}).get("refund") or {}
    return [refund["id"]] if refund.get("id") else []


def existing_effect(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """What an earlier attempt already did on Shopify (ids), or ``None`` when nothing is there.

    Raises ``JobStillRunning`` for an orderCancel whose recorded job is still running: neither adopt nor
    resend (a second orderCancel could start a second refund).
    """
    if intent.kind == DISPUTE_EVIDENCE_UPDATE:
        return submission.existing_effect(client, intent)
    if return_actions.handles(intent.kind):
        return return_actions.existing_effect(client, intent)
    view = read_order(client, intent.params["order_gid"])
    if intent.kind == ik.ORDER_CANCEL:
        if view.cancelled:
            return [view.gid]
        if intent.job_gid and not _job_done(client, intent.job_gid):
            raise JobStillRunning(intent.job_gid)
        return None
    if intent.kind == ik.REFUND_CREATE:
        found = view.refund_with_note(refund_marker(intent))
        return [found.gid] if found else None
    fo = next((f for f in view.fulfillment_orders if f.gid == intent.params["fulfillment_order_gid"]), None)
    if fo is None:
        return None
    if intent.kind == ik.FULFILLMENT_ORDER_CANCEL and (not fo.open or fo.request_status.upper() == "UNSUBMITTED"):
        return [fo.gid]
    done_statuses = ("CANCELLATION_REQUESTED", "CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED")
    if intent.kind == ik.CANCELLATION_REQUEST and (fo.request_status.upper() in done_statuses or not fo.open):
        return [fo.gid]
    return None


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
