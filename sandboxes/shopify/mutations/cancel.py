"""``orderCancel``: validated at once (``orderCancelUserErrors``), applied asynchronously by a job.

Refusals (code INVALID unless noted): unknown order (NOT_FOUND), already cancelled, an active return
(REQUESTED or OPEN), any fulfillment,
a fulfillment request the service holds (SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED/REJECTED: cancel it
or get the cancellation accepted first), pending payment transactions, store-credit refunds (not
supported by the sandbox). Applying: ``cancelledAt``/``cancelReason`` set, order closed, fulfillment
orders closed, open authorizations voided, and with ``refundMethod.originalPaymentMethodsRefund`` (or the
deprecated ``refund: true``) everything paid is refunded (restock CANCEL when ``restock``). The job's
``done`` turns true only once all that is applied.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import events, ids, ledger
from sandboxes.shopify.generator import mint
from sandboxes.shopify.model import Order, Pair, Refund, Transaction, gid, parse_gid
from sandboxes.shopify.refunds import refund_line, refundable_parents, shipping_left
from sandboxes.shopify.returns import has_active_return
from sandboxes.shopify.state import Job
from sandboxes.shopify.views.records import JobView, OrderCancelJobResultView

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

NAME = "orderCancel"
HELD_REQUESTS = ("SUBMITTED", "ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED")


def order_cancel(
    sandbox: ShopifySandbox,
    orderId: str,
    reason: str,
    restock: bool,
    notifyCustomer: bool | None = None,
    staffNote: str | None = None,
    refund: bool | None = None,
    refundMethod: dict[str, Any] | None = None,
) -> dict[str, Any]:
    state = sandbox.state
    numeric = parse_gid(orderId, "Order")
    order = state.get(ids.order_index(numeric)) if numeric is not None else None
    problem = (
        _refusal(order, refundMethod) if order is not None else _error(["orderId"], "Order does not exist", "NOT_FOUND")
    )
    if problem is not None:
        state.record(NAME, orderId, applied=False, refused=problem["message"])
        return {"job": None, "jobResult": None, "orderCancelUserErrors": [problem], "userErrors": [_plain(problem)]}
    assert order is not None
    with_refund = bool((refundMethod or {}).get("originalPaymentMethodsRefund") or refund)
    job = Job(gid("Job", 9_000_000 + state.serial()), order.id)
    state.jobs[job.id] = job
    state.record(NAME, orderId, applied=True, reason=reason, refund=with_refund, restock=restock, job=job.id)
    _schedule(sandbox, job, order.index, reason, restock, with_refund, staffNote)
    return {
        "job": JobView(state, job),
        "jobResult": OrderCancelJobResultView(state, job),
        "orderCancelUserErrors": [],
        "userErrors": [],
    }


def _error(field: list[str], message: str, code: str = "INVALID") -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    return {"field": error["field"], "message": error["message"]}


def _refusal(order: Order, refund_method: dict[str, Any] | None) -> dict[str, Any] | None:
    if order.cancelled_at is not None:
        return _error(["orderId"], "Order has already been cancelled")
    if has_active_return(order):
        return _error(["orderId"], "Cannot cancel an order with an active return (requested or open)")
    if any(f.status == "SUCCESS" for f in order.fulfillments):
        return _error(["orderId"], "Cannot cancel an order that has fulfillments; refund it instead")
    held = [fo for fo in order.fulfillment_orders if fo.request_status in HELD_REQUESTS and fo.status != "CLOSED"]
    if held:
        status = held[0].request_status
        return _error(["orderId"], f"Cannot cancel: a fulfillment order has a fulfillment request in status {status}")
    if any(t.status == "PENDING" for t in order.transactions):
        return _error(["orderId"], "Cannot cancel an order with pending payment transactions")
    if refund_method and refund_method.get("storeCreditRefund"):
        return _error(["refundMethod", "storeCreditRefund"], "not supported by the sandbox: store credit refunds")
    return None


def _schedule(
    sandbox: ShopifySandbox, job: Job, index: int, reason: str, restock: bool, refund: bool, note: str | None
) -> None:
    def run() -> None:
        with sandbox.state.lock:
            if sandbox.state.jobs.get(job.id) is not job:
                return  # the shop was reset meanwhile
            _apply(sandbox, index, reason, restock, refund, note)
            job.done = True

    delay = sandbox.config.job_delay_seconds
    if delay <= 0:
        run()
        return
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def _apply(sandbox: ShopifySandbox, index: int, reason: str, restock: bool, refund: bool, note: str | None) -> None:
    state = sandbox.state
    order = state.for_update(index)
    assert order is not None
    when = state.clock.tick()
    order.cancelled_at, order.closed_at, order.cancel_reason = when, when, reason
    if note:
        order.note = note
    for fo in order.fulfillment_orders:
        if fo.status not in ("CLOSED", "CANCELLED"):
            fo.status, fo.updated_at = "CLOSED", when
            for line in fo.lines:
                line.remaining_quantity = 0
    _void_authorizations(order, when)
    created = _refund_everything(order, when, restock) if refund else None
    state.touch(order)
    event = events.order_changed(sandbox, order, ["orders/cancelled"])
    if created is not None:
        events.refund_created(sandbox, order, created, event)


def _void_authorizations(order: Order, when: Any) -> None:
    for auth_id in ledger.uncaptured_authorizations(order):
        auth = order.transaction(auth_id)
        assert auth is not None
        void = Transaction(mint(order, "OrderTransaction"), "VOID", "SUCCESS", auth.gateway, auth.amount, when, auth.id)
        order.transactions.append(void)


def _refund_everything(order: Order, when: Any, restock: bool) -> Refund | None:
    parents = [(parent, left) for parent, left in refundable_parents(order) if left.shop > 0]
    if not parents:
        return None
    lines = [
        refund_line(
            order,
            item,
            ledger.current_quantity(order, item),
            "CANCEL" if restock else "NO_RESTOCK",
            mint(order, "RefundLineItem"),
        )
        for item in order.line_items
        if ledger.current_quantity(order, item) > 0
    ]
    transactions = [
        Transaction(mint(order, "OrderTransaction"), "REFUND", "SUCCESS", parent.gateway, left, when, parent.id)
        for parent, left in parents
    ]
    shipping: Pair = shipping_left(order)
    refund = Refund(mint(order, "Refund"), when, "Order cancelled", lines, shipping, transactions)
    order.refunds.append(refund)
    return refund
