"""The return mutations: returnRequest, returnCreate, returnApproveRequest, returnDeclineRequest,
returnProcess, returnClose, returnCancel, returnReopen (rules in ``sandbox/returns.py``).

Refusals are ``ReturnUserError``s (``field``, ``message``, ``code``) with ``return: null`` and nothing
changed; input the sandbox does not model (exchanges, duties, store credit, return reason definitions) is a
top-level ``NOT_SUPPORTED_BY_SANDBOX`` error. Every call is recorded per order (``control.mutations``), with
the return's gid, so tests can count e.g. the ``returnProcess`` calls a return received. ``returnProcess``
has no idempotency key, as on Shopify: a repeated call processes (and refunds) again, within what is left.

Webhooks: the order's ``orders/updated``, ``refunds/create`` for a refund, and ``returns/<topic>`` plus
``returns/update``, all with one event id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import events
from sandboxes.shopify import returns as flow
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.model import Order, Return, gid
from sandboxes.shopify.views.returns import ReturnView

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


def _refused(sandbox: ShopifySandbox, name: str, order_gid: str | None, exc: flow.ReturnRefused) -> dict[str, Any]:
    sandbox.state.record(name, order_gid, applied=False, refused=exc.message, code=exc.code)
    return {"return": None, "userErrors": [exc.as_error()]}


def _unsupported(sandbox: ShopifySandbox, name: str, order_gid: str | None, exc: flow.NotSupported) -> ShopifyError:
    sandbox.state.record(name, order_gid, applied=False, refused=str(exc))
    return ShopifyError(str(exc), "NOT_SUPPORTED_BY_SANDBOX")


def _changed(
    sandbox: ShopifySandbox, order: Order, found: Return, topics: list[str], refund_id: int | None = None
) -> None:
    sandbox.state.touch(order)
    event = events.order_changed(sandbox, order, [])
    if refund_id is not None:
        refund = next(r for r in order.refunds if r.id == refund_id)
        events.refund_created(sandbox, order, refund, event)
    events.return_changed(sandbox, order, found, topics, event)


def create(sandbox: ShopifySandbox, name: str, data: dict[str, Any], root: str, status: str) -> dict[str, Any]:
    """``returnRequest`` (REQUESTED, ``returns/request``) or ``returnCreate`` (OPEN, ``returns/approve``)."""
    state = sandbox.state
    order_gid = str(data.get("orderId"))
    try:
        order = flow.find_order(state, order_gid, [root, "orderId"])
        created = flow.create_return(order, data, root, status, state.clock.tick())
    except flow.ReturnRefused as exc:
        return _refused(sandbox, name, order_gid, exc)
    except flow.NotSupported as exc:
        raise _unsupported(sandbox, name, order_gid, exc) from None
    return_gid = gid("Return", created.id)
    state.record(name, order_gid, applied=True, **{"return": return_gid, "quantity": created.total_quantity})
    _changed(sandbox, order, created, ["request" if status == "REQUESTED" else "approve"])
    return {"return": ReturnView(state, order, created), "userErrors": []}


def transition(
    sandbox: ShopifySandbox,
    name: str,
    return_gid: str,
    path: list[str],
    step: Callable[[Return, datetime], None],
    topic: str,
) -> dict[str, Any]:
    """Approve, decline, close, reopen or cancel: look the return up, apply ``step``, emit ``topic``."""
    state = sandbox.state
    try:
        order, found = flow.find_return(state, return_gid, path)
    except flow.ReturnRefused as exc:
        return _refused(sandbox, name, None, exc)
    order_gid = gid("Order", order.id)
    try:
        step(found, state.clock.tick())
    except flow.ReturnRefused as exc:
        state.record(name, order_gid, applied=False, refused=exc.message, code=exc.code, **{"return": return_gid})
        return {"return": None, "userErrors": [exc.as_error()]}
    state.record(name, order_gid, applied=True, status=found.status, **{"return": return_gid})
    _changed(sandbox, order, found, [topic])
    return {"return": ReturnView(state, order, found), "userErrors": []}


def process(sandbox: ShopifySandbox, data: dict[str, Any]) -> dict[str, Any]:
    """``returnProcess``: processed quantities, dispositions, and the refund through the order's transactions."""
    state = sandbox.state
    name = "returnProcess"
    return_gid = str(data.get("returnId"))
    try:
        order, found = flow.find_return(state, return_gid, ["input", "returnId"])
    except flow.ReturnRefused as exc:
        return _refused(sandbox, name, None, exc)
    order_gid = gid("Order", order.id)
    try:
        plan = flow.plan_process(order, found, data)
    except flow.ReturnRefused as exc:
        state.record(name, order_gid, applied=False, refused=exc.message, code=exc.code, **{"return": return_gid})
        return {"return": None, "userErrors": [exc.as_error()]}
    except flow.NotSupported as exc:
        raise _unsupported(sandbox, name, order_gid, exc) from None
    refund = flow.apply_process(order, found, plan, data.get("note"), state.clock.tick())
    state.record(
        name,
        order_gid,
        applied=True,
        refund=gid("Refund", refund.id) if refund is not None else None,
        amount=str(refund.total().shop) if refund is not None else "0.00",
        quantity=sum(quantity for _, quantity in plan.quantities),
        **{"return": return_gid},
    )
    _changed(sandbox, order, found, ["process"], refund.id if refund is not None else None)
    return {"return": ReturnView(state, order, found), "userErrors": []}


def approve(sandbox: ShopifySandbox, data: dict[str, Any]) -> dict[str, Any]:
    return transition(sandbox, "returnApproveRequest", str(data.get("id")), ["input", "id"], flow.approve, "approve")


def decline(sandbox: ShopifySandbox, data: dict[str, Any]) -> dict[str, Any]:
    def step(found: Return, now: datetime) -> None:
        flow.decline(found, str(data.get("declineReason")), data.get("declineNote"), now)

    return transition(sandbox, "returnDeclineRequest", str(data.get("id")), ["input", "id"], step, "decline")


def close(sandbox: ShopifySandbox, return_gid: str) -> dict[str, Any]:
    return transition(sandbox, "returnClose", return_gid, ["id"], flow.close, "close")


def reopen(sandbox: ShopifySandbox, return_gid: str) -> dict[str, Any]:
    return transition(sandbox, "returnReopen", return_gid, ["id"], flow.reopen, "reopen")


def cancel(sandbox: ShopifySandbox, return_gid: str) -> dict[str, Any]:
    return transition(sandbox, "returnCancel", return_gid, ["id"], flow.cancel, "cancel")
