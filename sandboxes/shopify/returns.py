"""Returns: what can be returned, the return's state machine, and processing a return into a refund.

    returnRequest --> REQUESTED --returnApproveRequest--> OPEN    (returnCreate starts at OPEN)
    REQUESTED --returnDeclineRequest--> DECLINED;  REQUESTED or OPEN --returnCancel--> CANCELED (nothing processed)
    OPEN --returnProcess (any number of times, within the processable quantities)--> OPEN
    OPEN --returnClose--> CLOSED --returnReopen--> OPEN

One source of truth with the order: return line items point at fulfillment line items; ``returnProcess``
adds a ``Refund`` to the order (``return_id`` set) whose lines and transactions follow the same rules as
``refundCreate`` (no more than the net payment, no more than is left on each parent transaction), so totals,
financial status and ``refunds/create`` come from the same code as every other refund.

Returnable units of a line item: fulfilled, not refunded outside a return, not already in a live return
(REQUESTED, OPEN or CLOSED; a DECLINED or CANCELED return frees its units).

Functions raise ``ReturnRefused`` (field path, message, ``ReturnErrorCode``); the mutation layer turns it
into ``ReturnUserError``s. Nothing is changed before every check passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ids, ledger
from sandboxes.shopify.generator import mint
from sandboxes.shopify.model import (
    ACTIVE_RETURN_STATUSES,
    CENT,
    ZERO_PAIR,
    Disposition,
    LineItem,
    Order,
    Pair,
    Refund,
    RefundLine,
    Return,
    ReturnLine,
    Transaction,
    new_pair,
    pair_sum,
    parse_gid,
)
from sandboxes.shopify.refunds import RefundRefused, allocate, parse_pair, refund_line, refundable_parents

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState

REASONS = (
    "COLOR",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "OTHER",
    "SIZE_TOO_LARGE",
    "SIZE_TOO_SMALL",
    "STYLE",
    "UNKNOWN",
    "UNWANTED",
    "WRONG_ITEM",
)
REASON_NAMES = {
    "COLOR": "Color",
    "DEFECTIVE": "Damaged or defective",
    "NOT_AS_DESCRIBED": "Item not as described",
    "OTHER": "Other",
    "SIZE_TOO_LARGE": "Size was too large",
    "SIZE_TOO_SMALL": "Size was too small",
    "STYLE": "Style",
    "UNKNOWN": "Unknown",
    "UNWANTED": "Customer changed their mind",
    "WRONG_ITEM": "Received the wrong item",
}
REASON_DEFINITION_BASE = 90_000


def reason_definition_id(reason: str) -> int:
    """The ``ReturnReasonDefinition`` standing for a ``ReturnReason`` (handle: the enum, kebab case)."""
    return REASON_DEFINITION_BASE + REASONS.index(reason)


def reason_from_definition(value: str) -> str | None:
    numeric = parse_gid(value, "ReturnReasonDefinition")
    position = numeric - REASON_DEFINITION_BASE if numeric is not None else -1
    return REASONS[position] if 0 <= position < len(REASONS) else None


DECLINE_REASONS = ("FINAL_SALE", "OTHER", "RETURN_PERIOD_ENDED")
DISPOSITIONS = ("MISSING", "NOT_RESTOCKED", "PROCESSING_REQUIRED", "RESTOCKED")
LIVE = ("REQUESTED", "OPEN", "CLOSED")
CUSTOMER_NOTE_MAX = 300
REASON_NOTE_MAX = 255
DECLINE_NOTE_MAX = 500


class ReturnRefused(ValueError):
    """Input Shopify refuses with a ``ReturnUserError``."""

    def __init__(self, field_path: list[str], message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.field = field_path
        self.message = message
        self.code = code

    def as_error(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "code": self.code}


class NotSupported(ValueError):
    """Input the sandbox does not model (exchanges, store credit, duties, return reason definitions)."""


# --- lookups ----------------------------------------------------------------------------------------------


def find_return(state: ShopState, value: str, path: list[str]) -> tuple[Order, Return]:
    """The order (materialized for update) and the return named by a ``Return`` gid."""
    numeric = parse_gid(str(value), "Return")
    index = ids.order_index_of("Return", numeric) if numeric is not None else None
    order = state.for_update(index) if index is not None and state.get(index) is not None else None
    found = order.return_(numeric) if order is not None and numeric is not None else None
    if order is None or found is None:
        raise ReturnRefused(path, "Return does not exist.", "NOT_FOUND")
    return order, found


def find_order(state: ShopState, value: str, path: list[str]) -> Order:
    numeric = parse_gid(str(value), "Order")
    order = state.get(ids.order_index(numeric)) if numeric is not None else None
    if order is None:
        raise ReturnRefused(path, "Order does not exist.", "NOT_FOUND")
    updated = state.for_update(order.index)
    assert updated is not None
    return updated


def in_returns(order: Order, line_item_id: int | None = None, fulfillment_line_item_id: int | None = None) -> int:
    """Units of a line item (or of one fulfillment line item) in live returns."""
    return sum(
        line.quantity
        for r in order.returns
        if r.status in LIVE
        for line in r.lines
        if (line_item_id is None or line.line_item_id == line_item_id)
        and (fulfillment_line_item_id is None or line.fulfillment_line_item_id == fulfillment_line_item_id)
    )


def refunded_outside_returns(order: Order, item: LineItem) -> int:
    return sum(
        line.quantity
        for refund in order.refunds
        if refund.return_id is None
        for line in refund.lines
        if line.line_item_id == item.id
    )


def returnable_quantity(order: Order, fulfillment_line_item_id: int) -> int:
    """Units of a fulfillment line item a new return may still take."""
    found = order.fulfillment_line(fulfillment_line_item_id)
    if found is None or found[0].status != "SUCCESS":
        return 0
    _, (_, line_item_id, quantity) = found
    item = order.line_item(line_item_id)
    assert item is not None
    by_line = min(ledger.fulfilled_quantity(order, item), item.quantity - refunded_outside_returns(order, item))
    by_line -= in_returns(order, line_item_id=item.id)
    by_fulfillment_line = quantity - in_returns(order, fulfillment_line_item_id=fulfillment_line_item_id)
    return max(0, min(by_line, by_fulfillment_line))


def has_active_return(order: Order) -> bool:
    return any(r.status in ACTIVE_RETURN_STATUSES for r in order.returns)


def order_return_status(order: Order) -> str:
    """``Order.returnStatus``: the most pressing state among the order's returns."""
    statuses = {r.status for r in order.returns}
    if "OPEN" in statuses:
        open_returns = [r for r in order.returns if r.status == "OPEN"]
        if all(line.processed_quantity == line.quantity for r in open_returns for line in r.lines):
            return "INSPECTION_COMPLETE"
        return "IN_PROGRESS"
    if "REQUESTED" in statuses:
        return "RETURN_REQUESTED"
    if "CLOSED" in statuses:
        return "RETURNED"
    return "NO_RETURN"


# --- creating a return ---------------------------------------------------------------------------------------


def create_return(order: Order, data: dict[str, Any], root: str, status: str, now: datetime) -> Return:
    """A new return on ``order`` from ``ReturnInput`` / ``ReturnRequestInput`` (``root`` names the argument)."""
    if data.get("exchangeLineItems"):
        raise NotSupported(f"not supported by the sandbox: {root}.exchangeLineItems")
    wanted = list(data.get("returnLineItems") or [])
    if not wanted:
        raise ReturnRefused([root, "returnLineItems"], "Return line items can't be blank.", "BLANK")
    taken: dict[int, int] = {}
    plans: list[tuple[dict[str, Any], int, int]] = []
    for position, entry in enumerate(wanted):
        path = [root, "returnLineItems", str(position)]
        definition = entry.get("returnReasonDefinitionId")
        if definition:
            reason = reason_from_definition(str(definition))
            if reason is None:
                raise ReturnRefused(
                    [*path, "returnReasonDefinitionId"], "Return reason definition does not exist.", "NOT_FOUND"
                )
            entry = {**entry, "returnReason": reason}
        fli_id = parse_gid(str(entry.get("fulfillmentLineItemId") or ""), "FulfillmentLineItem")
        found = order.fulfillment_line(fli_id) if fli_id is not None else None
        if fli_id is None or found is None:
            raise ReturnRefused([*path, "fulfillmentLineItemId"], "Fulfillment line item does not exist.", "NOT_FOUND")
        quantity = int(entry.get("quantity") or 0)
        if quantity <= 0:
            raise ReturnRefused([*path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
        available = returnable_quantity(order, fli_id) - taken.get(fli_id, 0)
        if quantity > available:
            raise ReturnRefused(
                [*path, "quantity"],
                f"Quantity {quantity} exceeds the returnable quantity ({max(available, 0)}) of the line item.",
                "LESS_THAN_OR_EQUAL_TO",
            )
        _check_line_text(entry, path)
        taken[fli_id] = taken.get(fli_id, 0) + quantity
        plans.append((entry, fli_id, found[1][1]))
    shipping_fee = _shipping_fee(order, data.get("returnShippingFee"), [root, "returnShippingFee"])
    number = len(order.returns) + 1
    created = Return(
        mint(order, "Return"),
        f"{order.name}-R{number}",
        status,
        now,
        now,
        [],
        mint(order, "ReverseFulfillmentOrder"),
        requested_at=_requested_at(data.get("requestedAt")) or now,
        request_approved_at=now if status == "OPEN" else None,
    )
    for entry, fli_id, line_item_id in plans:
        fee = entry.get("restockingFee")
        created.lines.append(
            ReturnLine(
                mint(order, "ReturnLineItem"),
                fli_id,
                line_item_id,
                int(entry["quantity"]),
                str(entry.get("returnReason") or "UNKNOWN"),
                str(entry.get("returnReasonNote") or ""),
                entry.get("customerNote"),
                float(fee["percentage"]) if fee else None,
                mint(order, "ReverseFulfillmentOrderLineItem"),
            )
        )
    if shipping_fee is not None:
        created.shipping_fee, created.shipping_fee_id = shipping_fee, mint(order, "ReturnShippingFee")
    order.returns.append(created)
    return created


def _check_line_text(entry: dict[str, Any], path: list[str]) -> None:
    reason = entry.get("returnReason")
    if reason is not None and reason not in REASONS:
        raise ReturnRefused([*path, "returnReason"], f"Return reason {reason} is not valid.", "INCLUSION")
    if len(entry.get("customerNote") or "") > CUSTOMER_NOTE_MAX:
        raise ReturnRefused(
            [*path, "customerNote"], "Customer note is too long (maximum is 300 characters).", "TOO_LONG"
        )
    if len(entry.get("returnReasonNote") or "") > REASON_NOTE_MAX:
        raise ReturnRefused(
            [*path, "returnReasonNote"], "Return reason note is too long (maximum is 255 characters).", "TOO_LONG"
        )
    fee = entry.get("restockingFee")
    if fee is not None and not 0 <= float(fee.get("percentage", -1)) <= 100:
        raise ReturnRefused(
            [*path, "restockingFee", "percentage"], "Restocking fee percentage must be between 0 and 100.", "INVALID"
        )


def _shipping_fee(order: Order, value: dict[str, Any] | None, path: list[str]) -> Pair | None:
    if not value:
        return None
    money = value.get("amount") or {}
    try:
        return parse_pair(order, money.get("amount"), money.get("currencyCode"), [*path, "amount"])
    except RefundRefused as exc:
        raise ReturnRefused(exc.field, exc.message, "INVALID") from None


def _requested_at(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ReturnRefused(["returnInput", "requestedAt"], f"{value!r} is not a valid date and time.") from None


# --- transitions -------------------------------------------------------------------------------------------


def require_status(found: Return, allowed: tuple[str, ...], action: str, path: list[str]) -> None:
    if found.status not in allowed:
        wanted = " or ".join(allowed)
        raise ReturnRefused(
            path, f"Return {found.name} is {found.status}: it must be {wanted} to be {action}.", "INVALID_STATE"
        )


def approve(found: Return, now: datetime) -> None:
    require_status(found, ("REQUESTED",), "approved", ["input", "id"])
    found.status, found.request_approved_at, found.updated_at = "OPEN", now, now


def decline(found: Return, reason: str, note: str | None, now: datetime) -> None:
    require_status(found, ("REQUESTED",), "declined", ["input", "id"])
    if reason not in DECLINE_REASONS:
        raise ReturnRefused(["input", "declineReason"], f"Decline reason {reason} is not valid.", "INCLUSION")
    if note is not None and len(note) > DECLINE_NOTE_MAX:
        raise ReturnRefused(
            ["input", "declineNote"], "Decline note is too long (maximum is 500 characters).", "TOO_LONG"
        )
    found.status, found.decline_reason, found.decline_note, found.updated_at = "DECLINED", reason, note, now


def close(found: Return, now: datetime) -> None:
    require_status(found, ("OPEN",), "closed", ["id"])
    found.status, found.closed_at, found.updated_at = "CLOSED", now, now


def reopen(found: Return, now: datetime) -> None:
    require_status(found, ("CLOSED",), "reopened", ["id"])
    found.status, found.closed_at, found.updated_at = "OPEN", None, now


def cancel(found: Return, now: datetime) -> None:
    require_status(found, ("REQUESTED", "OPEN"), "canceled", ["id"])
    if any(line.processed_quantity for line in found.lines):
        raise ReturnRefused(
            ["id"], f"Return {found.name} has processed items: it can no longer be canceled.", "INVALID_STATE"
        )
    found.status, found.updated_at = "CANCELED", now


# --- processing ----------------------------------------------------------------------------------------------


@dataclass
class ProcessPlan:
    """What one ``returnProcess`` will do, fully validated before anything changes."""

    quantities: list[tuple[ReturnLine, int]] = field(default_factory=list)
    dispositions: list[tuple[ReturnLine, int, str, int | None]] = field(default_factory=list)
    refund_lines: list[RefundLine] = field(default_factory=list)
    shipping: Pair = ZERO_PAIR
    fees: Pair = ZERO_PAIR
    transactions: list[tuple[Transaction, Pair]] = field(default_factory=list)
    issue_refund: bool = False


def restocking_fee(order: Order, line: ReturnLine, subtotal: Pair) -> Pair:
    if not line.restocking_fee_percentage:
        return ZERO_PAIR
    rate = Decimal(str(line.restocking_fee_percentage)) / 100
    return new_pair(((subtotal.shop * rate).quantize(CENT), (subtotal.presentment * rate).quantize(CENT)))


def plan_process(order: Order, found: Return, data: dict[str, Any]) -> ProcessPlan:
    require_status(found, ("OPEN",), "processed", ["input", "returnId"])
    for unsupported in ("exchangeLineItems", "refundDuties"):
        if data.get(unsupported):
            raise NotSupported(f"not supported by the sandbox: ReturnProcessInput.{unsupported}")
    if data.get("tipLineId"):
        raise NotSupported("not supported by the sandbox: ReturnProcessInput.tipLineId")
    plan = ProcessPlan()
    seen: dict[int, int] = {}
    for position, entry in enumerate(data.get("returnLineItems") or []):
        path = ["input", "returnLineItems", str(position)]
        line_id = parse_gid(str(entry.get("id") or ""), "ReturnLineItem")
        line = found.line(line_id) if line_id is not None else None
        if line is None:
            raise ReturnRefused([*path, "id"], "Return line item does not exist on this return.", "NOT_FOUND")
        quantity = int(entry.get("quantity") or 0)
        if quantity <= 0:
            raise ReturnRefused([*path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
        processable = line.quantity - line.processed_quantity - seen.get(line.id, 0)
        if quantity > processable:
            raise ReturnRefused(
                [*path, "quantity"],
                f"Quantity {quantity} exceeds the processable quantity ({processable}) of the return line item.",
                "LESS_THAN_OR_EQUAL_TO",
            )
        seen[line.id] = seen.get(line.id, 0) + quantity
        plan.quantities.append((line, quantity))
        _plan_dispositions(found, line, quantity, entry.get("dispositions") or [], path, plan)
    plan.shipping = _plan_shipping(order, data.get("refundShipping"))
    transfer = data.get("financialTransfer") or {}
    refund_input = transfer.get("issueRefund")
    if not plan.quantities and plan.shipping.is_zero() and refund_input is None:
        raise ReturnRefused(["input"], "Nothing to process: give return line items, shipping or a refund.", "BLANK")
    plan.refund_lines = _refund_lines(order, plan)
    plan.fees = pair_sum(
        [
            restocking_fee(order, line, refund.subtotal)
            for (line, _), refund in zip(plan.quantities, plan.refund_lines, strict=True)
        ]
    )
    if refund_input is not None:
        plan.issue_refund = True
        plan.transactions = _plan_transactions(order, refund_input)
    return plan


def _plan_dispositions(
    found: Return, line: ReturnLine, quantity: int, wanted: list[dict[str, Any]], path: list[str], plan: ProcessPlan
) -> None:
    total = 0
    for position, entry in enumerate(wanted):
        where = [*path, "dispositions", str(position)]
        target = parse_gid(str(entry.get("reverseFulfillmentOrderLineItemId") or ""), "ReverseFulfillmentOrderLineItem")
        if target != line.reverse_line_id:
            raise ReturnRefused(
                [*where, "reverseFulfillmentOrderLineItemId"],
                "Reverse fulfillment order line item does not belong to this return line item.",
                "NOT_FOUND",
            )
        kind = str(entry.get("dispositionType"))
        location = parse_gid(str(entry.get("locationId") or ""), "Location")
        if kind == "RESTOCKED" and location is None:
            raise ReturnRefused([*where, "locationId"], "A location is required to restock items.", "BLANK")
        if location is not None and location not in (ids.SHOP_LOCATION_ID, ids.SERVICE_LOCATION_ID):
            raise ReturnRefused([*where, "locationId"], "Location does not exist.", "NOT_FOUND")
        count = int(entry.get("quantity") or 0)
        if count <= 0:
            raise ReturnRefused([*where, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
        total += count
        plan.dispositions.append((line, count, kind, location))
    if total > quantity:
        raise ReturnRefused(
            [*path, "dispositions"],
            f"Dispositions cover {total} units but only {quantity} are processed.",
            "LESS_THAN_OR_EQUAL_TO",
        )


def _plan_shipping(order: Order, value: dict[str, Any] | None) -> Pair:
    if not value:
        return ZERO_PAIR
    left = order.shipping_price - ledger.refunded_shipping(order)
    money = value.get("shippingRefundAmount")
    if money:
        path = ["input", "refundShipping", "shippingRefundAmount"]
        try:
            amount = parse_pair(order, money.get("amount"), money.get("currencyCode"), path)
        except RefundRefused as exc:
            raise ReturnRefused(exc.field, exc.message) from None
        if amount.shop > left.shop:
            raise ReturnRefused(
                path,
                f"Shipping refund of {amount.shop} exceeds the {left.shop} left to refund.",
                "LESS_THAN_OR_EQUAL_TO",
            )
        return amount
    return left if value.get("fullRefund") else ZERO_PAIR


def _refund_lines(order: Order, plan: ProcessPlan) -> list[RefundLine]:
    lines = []
    restocked = {line.id for line, _, kind, _ in plan.dispositions if kind == "RESTOCKED"}
    for line, quantity in plan.quantities:
        item = order.line_item(line.line_item_id)
        assert item is not None
        restock = "RETURN" if line.id in restocked else "NO_RESTOCK"
        lines.append(refund_line(order, item, quantity, restock, 0))
    return lines


def _plan_transactions(order: Order, refund_input: dict[str, Any]) -> list[tuple[Transaction, Pair]]:
    if refund_input.get("refundMethods"):
        raise NotSupported("not supported by the sandbox: ReturnProcessRefundInput.refundMethods (store credit)")
    parents = {parent.id: (parent, left) for parent, left in refundable_parents(order)}
    allow_over = bool(refund_input.get("allowOverRefunding"))
    chosen: list[tuple[Transaction, Pair]] = []
    total = ZERO_PAIR
    base = ["input", "financialTransfer", "issueRefund", "orderTransactions"]
    for position, entry in enumerate(refund_input.get("orderTransactions") or []):
        path = [*base, str(position)]
        parent_id = parse_gid(str(entry.get("parentId") or ""), "OrderTransaction")
        if parent_id not in parents:
            raise ReturnRefused(
                [*path, "parentId"], "Parent transaction is not a refundable sale or capture of this order.", "INVALID"
            )
        parent, left = parents[parent_id]
        money = entry.get("transactionAmount") or {}
        try:
            amount = parse_pair(order, money.get("amount"), money.get("currencyCode"), [*path, "transactionAmount"])
        except RefundRefused as exc:
            raise ReturnRefused(exc.field, exc.message) from None
        if amount.shop <= 0:
            raise ReturnRefused([*path, "transactionAmount"], "Amount must be greater than 0.", "GREATER_THAN")
        if amount.shop > left.shop and not allow_over:
            raise ReturnRefused(
                [*path, "transactionAmount"],
                f"Refund amount {amount.shop} exceeds the {left.shop} refundable on the parent transaction.",
                "LESS_THAN_OR_EQUAL_TO",
            )
        parents[parent_id] = (parent, left - amount)
        total = total + amount
        chosen.append((parent, amount))
    net = ledger.net_payment(order)
    if total.shop > net.shop and not allow_over:
        raise ReturnRefused(
            base,
            f"Refund total {total.shop} exceeds the {net.shop} paid and not yet refunded.",
            "LESS_THAN_OR_EQUAL_TO",
        )
    return chosen


def apply_process(order: Order, found: Return, plan: ProcessPlan, note: str | None, now: datetime) -> Refund | None:
    """Apply a validated plan: processed quantities, dispositions, and the refund (None when nothing to record)."""
    for line, quantity in plan.quantities:
        line.processed_quantity += quantity
        if plan.issue_refund:
            line.refunded_quantity += quantity
    for line, count, kind, location in plan.dispositions:
        line.dispositions.append(
            Disposition(mint(order, "ReverseFulfillmentOrderDisposition"), count, kind, location, now)
        )
    found.updated_at = now
    if not plan.refund_lines and plan.shipping.is_zero() and not plan.transactions:
        return None
    for refund_line_ in plan.refund_lines:
        refund_line_.id = mint(order, "RefundLineItem")
    transactions = [
        Transaction(mint(order, "OrderTransaction"), "REFUND", "SUCCESS", parent.gateway, amount, now, parent.id)
        for parent, amount in plan.transactions
    ]
    refund = Refund(mint(order, "Refund"), now, note, plan.refund_lines, plan.shipping, transactions, found.id)
    order.refunds.append(refund)
    return refund


# --- suggested outcome ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """``Return.suggestedFinancialOutcome``: what processing these units would refund, and from where."""

    subtotal: Pair
    tax: Pair
    shipping: Pair
    shipping_left: Pair
    fees: Pair
    amount: Pair
    maximum: Pair
    transactions: list[tuple[Transaction, Pair, Pair]]


def suggest_outcome(
    order: Order, found: Return, wanted: list[dict[str, Any]], refund_shipping: dict[str, Any] | None
) -> Outcome:
    entries = [{"id": entry.get("id"), "quantity": entry.get("quantity")} for entry in wanted]
    plan = ProcessPlan()
    for position, entry in enumerate(entries):
        line_id = parse_gid(str(entry.get("id") or ""), "ReturnLineItem")
        line = found.line(line_id) if line_id is not None else None
        if line is None:
            raise ReturnRefused(
                ["returnLineItems", str(position), "id"], "Return line item does not exist.", "NOT_FOUND"
            )
        quantity = int(entry.get("quantity") or 0)
        if not 0 < quantity <= line.quantity - line.refunded_quantity:
            raise ReturnRefused(
                ["returnLineItems", str(position), "quantity"], "Quantity exceeds the refundable quantity.", "INVALID"
            )
        plan.quantities.append((line, quantity))
    plan.shipping = _plan_shipping(order, refund_shipping)
    lines = _refund_lines(order, plan)
    subtotal = pair_sum([line.subtotal for line in lines])
    tax = pair_sum([line.tax for line in lines])
    fees = pair_sum(
        [restocking_fee(order, line, r.subtotal) for (line, _), r in zip(plan.quantities, lines, strict=True)]
    )
    if found.shipping_fee is not None and not any(r.return_id == found.id for r in order.refunds):
        fees = fees + found.shipping_fee
    gross = subtotal + tax + plan.shipping - fees
    net = ledger.net_payment(order)
    amount = new_pair(
        (
            max(min(gross.shop, net.shop), ZERO_PAIR.shop),
            max(min(gross.presentment, net.presentment), ZERO_PAIR.presentment),
        )
    )
    left = order.shipping_price - ledger.refunded_shipping(order)
    return Outcome(subtotal, tax, plan.shipping, left, fees, amount, net, allocate(order, amount))
