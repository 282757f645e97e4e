"""Fulfillment orders at a fulfillment service: the request and cancellation state machines.

    UNSUBMITTED --submit--> SUBMITTED --accept--> ACCEPTED --fulfill--> (status CLOSED when all shipped)
                             |   \\--reject--> REJECTED (merchant may submit again)
                             \\--fulfillmentOrderCancel--> CLOSED + a new OPEN/UNSUBMITTED replacement
    ACCEPTED --submit cancellation request--> CANCELLATION_REQUESTED
        --service accepts--> CANCELLATION_ACCEPTED (status OPEN: the order may now be cancelled)
        --service rejects--> CANCELLATION_REJECTED (status IN_PROGRESS: the service will ship)

Mutations answer refusals in ``userErrors``; the control API drives the service's side with the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import events, ids, ledger
from sandboxes.shopify.catalog import CARRIERS
from sandboxes.shopify.errors import ControlError
from sandboxes.shopify.generator import mint
from sandboxes.shopify.model import (
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    Order,
    gid,
    parse_gid,
)
from sandboxes.shopify.snapshot import order_snapshot
from sandboxes.shopify.views.fulfillment import FulfillmentOrderView, FulfillmentView

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


Step = Callable[["ShopifySandbox", Order, FulfillmentOrder, "str | None"], dict[str, Any]]


class FulfillmentRefused(ValueError):
    """A transition not allowed from the fulfillment order's current state."""


def _find(sandbox: ShopifySandbox, value: str) -> tuple[Order, FulfillmentOrder] | None:
    numeric = parse_gid(value, "FulfillmentOrder")
    index = ids.order_index_of("FulfillmentOrder", numeric) if numeric is not None else None
    order = sandbox.state.for_update(index) if index is not None and sandbox.state.get(index) else None
    fo = order.fulfillment_order(numeric) if order is not None and numeric is not None else None
    return (order, fo) if order is not None and fo is not None else None


def _run(
    sandbox: ShopifySandbox,
    name: str,
    value: str,
    step: Step,
    message: str | None = None,
) -> dict[str, Any]:
    """Look the fulfillment order up, apply ``step``, record the mutation; refusals become userErrors."""
    found = _find(sandbox, value)
    if found is None:
        sandbox.state.record(name, None, applied=False, refused="fulfillment order not found")
        return {
            "fulfillmentOrder": None,
            "userErrors": [{"field": ["id"], "message": "Fulfillment order does not exist."}],
        }
    order, fo = found
    try:
        extra = step(sandbox, order, fo, message)
    except FulfillmentRefused as exc:
        sandbox.state.record(name, gid("Order", order.id), applied=False, refused=str(exc))
        return {"fulfillmentOrder": None, "userErrors": [{"field": ["id"], "message": str(exc)}]}
    sandbox.state.record(name, gid("Order", order.id), applied=True, fulfillment_order=gid("FulfillmentOrder", fo.id))
    return {"fulfillmentOrder": FulfillmentOrderView(sandbox.state, order, fo), "userErrors": [], **extra}


def _require(fo: FulfillmentOrder, allowed: tuple[str, ...], action: str) -> None:
    if fo.status in ("CLOSED", "CANCELLED") or fo.request_status not in allowed:
        raise FulfillmentRefused(
            f"Cannot {action}: fulfillment order is {fo.status} with request status {fo.request_status}"
        )


def _changed(
    sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, topic: str, message: str | None = None, **extra: Any
) -> None:
    if message is not None:
        extra["message"] = message
    fo.updated_at = sandbox.state.clock.tick()
    sandbox.state.touch(order)
    event = events.order_changed(sandbox, order, [])
    events.fulfillment_order_event(sandbox, topic, order, fo, event, **extra)


def _submit(sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None) -> dict[str, Any]:
    _require(fo, ("UNSUBMITTED", "REJECTED", "CANCELLATION_ACCEPTED"), "request fulfillment")
    fo.request_status = "SUBMITTED"
    _changed(sandbox, order, fo, "fulfillment_request_submitted", message, key="original_fulfillment_order")
    view = FulfillmentOrderView(sandbox.state, order, fo)
    return {"originalFulfillmentOrder": view, "submittedFulfillmentOrder": view, "unsubmittedFulfillmentOrder": None}


def _accept(sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None) -> dict[str, Any]:
    _require(fo, ("SUBMITTED",), "accept the fulfillment request")
    fo.status, fo.request_status = "IN_PROGRESS", "ACCEPTED"
    _changed(sandbox, order, fo, "fulfillment_request_accepted", message)
    return {}


def _reject(sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None) -> dict[str, Any]:
    _require(fo, ("SUBMITTED",), "reject the fulfillment request")
    fo.status, fo.request_status = "OPEN", "REJECTED"
    _changed(sandbox, order, fo, "fulfillment_request_rejected", message)
    return {}


def _cancel(sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None) -> dict[str, Any]:
    _require(fo, ("SUBMITTED",), "cancel the fulfillment order (once ACCEPTED, submit a cancellation request)")
    replacement = FulfillmentOrder(
        mint(order, "FulfillmentOrder"),
        "OPEN",
        "UNSUBMITTED",
        fo.location_id,
        fo.location_name,
        sandbox.state.clock.tick(),
        sandbox.state.clock.tick(),
        [
            FulfillmentOrderLine(
                mint(order, "FulfillmentOrderLineItem"), x.line_item_id, x.remaining_quantity, x.remaining_quantity
            )
            for x in fo.lines
            if x.remaining_quantity
        ],
    )
    fo.status, fo.request_status = "CLOSED", "CLOSED"
    for line in fo.lines:
        line.remaining_quantity = 0
    if replacement.lines:
        order.fulfillment_orders.append(replacement)
    _changed(
        sandbox, order, fo, "cancelled", replacement_fulfillment_order={"id": gid("FulfillmentOrder", replacement.id)}
    )
    view = FulfillmentOrderView(sandbox.state, order, replacement) if replacement.lines else None
    return {"replacementFulfillmentOrder": view}


def _request_cancellation(
    sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None
) -> dict[str, Any]:
    _require(fo, ("ACCEPTED",), "submit a cancellation request")
    fo.request_status = "CANCELLATION_REQUESTED"
    _changed(sandbox, order, fo, "cancellation_request_submitted", message)
    return {}


def _answer_cancellation(accept: bool) -> Step:
    def step(sandbox: ShopifySandbox, order: Order, fo: FulfillmentOrder, message: str | None) -> dict[str, Any]:
        _require(fo, ("CANCELLATION_REQUESTED",), f"{'accept' if accept else 'reject'} the cancellation request")
        if accept:
            fo.status, fo.request_status = "OPEN", "CANCELLATION_ACCEPTED"
        else:
            fo.status, fo.request_status = "IN_PROGRESS", "CANCELLATION_REJECTED"
        _changed(sandbox, order, fo, f"cancellation_request_{'accepted' if accept else 'rejected'}", message)
        return {}

    return step


def submit_fulfillment_request(sandbox: ShopifySandbox, value: str, message: str | None = None) -> dict[str, Any]:
    result = _run(sandbox, "fulfillmentOrderSubmitFulfillmentRequest", value, _submit, message)
    result.setdefault("originalFulfillmentOrder", None)
    result.setdefault("submittedFulfillmentOrder", None)
    result.setdefault("unsubmittedFulfillmentOrder", None)
    result.pop("fulfillmentOrder", None)
    return result


def accept_fulfillment_request(sandbox: ShopifySandbox, value: str, message: str | None = None) -> dict[str, Any]:
    return _run(sandbox, "fulfillmentOrderAcceptFulfillmentRequest", value, _accept, message)


def reject_fulfillment_request(sandbox: ShopifySandbox, value: str, message: str | None = None) -> dict[str, Any]:
    return _run(sandbox, "fulfillmentOrderRejectFulfillmentRequest", value, _reject, message)


def cancel_fulfillment_order(sandbox: ShopifySandbox, value: str) -> dict[str, Any]:
    result = _run(sandbox, "fulfillmentOrderCancel", value, _cancel)
    result.setdefault("replacementFulfillmentOrder", None)
    result["userErrors"] = [{**error, "code": None} for error in result["userErrors"]]
    return result


def submit_cancellation_request(sandbox: ShopifySandbox, value: str, message: str | None) -> dict[str, Any]:
    return _run(sandbox, "fulfillmentOrderSubmitCancellationRequest", value, _request_cancellation, message)


def answer_cancellation_request(
    sandbox: ShopifySandbox, value: str, accept: bool, message: str | None = None
) -> dict[str, Any]:
    name = "fulfillmentOrderAcceptCancellationRequest" if accept else "fulfillmentOrderRejectCancellationRequest"
    return _run(sandbox, name, value, _answer_cancellation(accept), message)


def create_fulfillment(sandbox: ShopifySandbox, data: dict[str, Any]) -> dict[str, Any]:
    """``fulfillmentCreate``: ship the given (or all remaining) units of ACCEPTED fulfillment orders."""
    groups = data.get("lineItemsByFulfillmentOrder") or []
    if len(groups) != 1:
        return {
            "fulfillment": None,
            "userErrors": [
                {
                    "field": ["fulfillment", "lineItemsByFulfillmentOrder"],
                    "message": "not supported by the sandbox: exactly one fulfillment order per fulfillment",
                }
            ],
        }
    tracking = data.get("trackingInfo") or {}
    found = _find(sandbox, str(groups[0].get("fulfillmentOrderId")))
    if found is None:
        return {
            "fulfillment": None,
            "userErrors": [{"field": ["fulfillment"], "message": "Fulfillment order does not exist."}],
        }
    order, fo = found
    try:
        fulfillment = ship(sandbox, order, fo, groups[0].get("fulfillmentOrderLineItems"), tracking)
    except FulfillmentRefused as exc:
        sandbox.state.record("fulfillmentCreate", gid("Order", order.id), applied=False, refused=str(exc))
        return {"fulfillment": None, "userErrors": [{"field": ["fulfillment"], "message": str(exc)}]}
    sandbox.state.record(
        "fulfillmentCreate", gid("Order", order.id), applied=True, fulfillment=gid("Fulfillment", fulfillment.id)
    )
    return {"fulfillment": FulfillmentView(sandbox.state, order, fulfillment), "userErrors": []}


def ship(
    sandbox: ShopifySandbox,
    order: Order,
    fo: FulfillmentOrder,
    wanted: list[dict[str, Any]] | None,
    tracking: dict[str, Any],
) -> Fulfillment:
    """Create a fulfillment with tracking; the fulfillment order closes once nothing remains."""
    _require(fo, ("ACCEPTED", "CANCELLATION_REJECTED"), "create a fulfillment")
    if order.cancelled_at is not None:
        raise FulfillmentRefused("Cannot fulfill a cancelled order")
    picked = _pick_lines(fo, wanted)
    before = ledger.fulfillment_status(order)
    when = sandbox.state.clock.tick()
    for line, quantity in picked:
        line.remaining_quantity -= quantity
    number = tracking.get("number") or (tracking.get("numbers") or [None])[0]
    fulfillment = Fulfillment(
        mint(order, "Fulfillment"),
        f"{order.name}-F{len(order.fulfillments) + 1}",
        "SUCCESS",
        when,
        when,
        fo.id,
        [(mint(order, "FulfillmentLineItem"), line.line_item_id, quantity) for line, quantity in picked],
        tracking.get("company"),
        number,
        tracking.get("url") or (tracking.get("urls") or [None])[0],
    )
    order.fulfillments.append(fulfillment)
    fo.status = "CLOSED" if all(x.remaining_quantity == 0 for x in fo.lines) else "IN_PROGRESS"
    fo.updated_at = when
    sandbox.state.touch(order)
    event = events.order_changed(sandbox, order, events.fulfillment_status_topics(before, order))
    events.fulfillment_created(sandbox, order, fulfillment, event)
    return fulfillment


def _pick_lines(fo: FulfillmentOrder, wanted: list[dict[str, Any]] | None) -> list[tuple[FulfillmentOrderLine, int]]:
    if not wanted:
        picked = [(line, line.remaining_quantity) for line in fo.lines if line.remaining_quantity]
    else:
        by_id = {gid("FulfillmentOrderLineItem", line.id): line for line in fo.lines}
        picked = []
        for entry in wanted:
            line = by_id.get(str(entry.get("id")))
            quantity = int(entry.get("quantity", 0))
            if line is None or not 0 < quantity <= line.remaining_quantity:
                raise FulfillmentRefused(
                    f"Invalid fulfillment order line item or quantity: {entry.get('id')} x {quantity}"
                )
            picked.append((line, quantity))
    if not picked:
        raise FulfillmentRefused("Nothing left to fulfill on this fulfillment order")
    return picked


STEPS: dict[str, Step] = {
    "submit": _submit,
    "accept": _accept,
    "reject": _reject,
    "cancel": _cancel,
    "request_cancellation": _request_cancellation,
    "accept_cancellation": _answer_cancellation(True),
    "reject_cancellation": _answer_cancellation(False),
}


def control_step(sandbox: ShopifySandbox, order: Order, action: str, **options: Any) -> dict[str, Any]:
    """The control API's fulfillment actions on the order's first fulfillment order still open, or on the
    one at position ``fulfillment_order`` (1-based, in the order's list)."""
    if action == "link_supplier":
        return _link_supplier(sandbox, order, str(options.get("supplier_order_id", "")))
    fo = _chosen_fulfillment_order(order, options.get("fulfillment_order"))
    try:
        if action == "fulfill":
            ship(sandbox, order, fo, None, _tracking(order, options))
        elif action in STEPS:
            STEPS[action](sandbox, order, fo, options.get("message"))
        else:
            raise ControlError(
                f"unknown fulfillment action {action!r} (use {', '.join([*STEPS, 'fulfill', 'link_supplier'])})"
            )
    except FulfillmentRefused as exc:
        raise ControlError(str(exc)) from None
    return order_snapshot(order)


def _chosen_fulfillment_order(order: Order, position: Any) -> FulfillmentOrder:
    if position is None:
        fo = next((x for x in order.fulfillment_orders if x.status not in ("CLOSED", "CANCELLED")), None)
        if fo is None:
            raise ControlError(f"order {order.name} has no open fulfillment order")
        return fo
    count = len(order.fulfillment_orders)
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= count:
        raise ControlError(f"fulfillment_order must be a position from 1 to {count} for order {order.name}")
    return order.fulfillment_orders[position - 1]


def _tracking(order: Order, options: dict[str, Any]) -> dict[str, Any]:
    company, prefix, url = CARRIERS[order.index % len(CARRIERS)]
    number = str(options.get("tracking_number") or f"{prefix}{order.id % 10**12:012d}")
    return {
        "company": options.get("tracking_company") or company,
        "number": number,
        "url": options.get("tracking_url") or url.format(number=number),
    }


def _link_supplier(sandbox: ShopifySandbox, order: Order, supplier_order_id: str) -> dict[str, Any]:
    if not supplier_order_id.isdigit():
        raise ControlError("supplier_order_id must be digits")
    order.note_attributes = [kv for kv in order.note_attributes if kv[0] != "aliexpress_order_id"]
    order.note_attributes.append(("aliexpress_order_id", supplier_order_id))
    sandbox.state.touch(order)
    events.order_changed(sandbox, order, [])
    return order_snapshot(order)
