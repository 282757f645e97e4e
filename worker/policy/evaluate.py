"""``evaluate``: the store's rules applied to one request. Pure: values in, a frozen ``Decision`` out.

No I/O and no clock: ``now`` is a parameter, so the same inputs and policy version always give the
same decision (a stored decision can be replayed). The rules, in the order they apply:

1. A cancelled order is denied, and so is a return with nothing left to refund (the money went back to
   the customer outside dropsync: refunded in Shopify's admin, or taken back by their bank through a
   chargeback not won); reasons listed in ``escalation.reasons`` go to a person.
2. The supplier side decides what is still possible: unpaid or paid-but-unshipped → a cancellation;
   shipped or delivered → a return (a cancel for "not received"/"late" after shipment is handled as a
   return; any other cancel after shipment is denied: the goods are on their way). Supplier orders in
   dispute, partly shipped, of unknown state, or in mixed states across the request → a person.
3. Cancellation rules (``[cancellation]``): allowed, reasons, until when, the window in hours. The
   store's own reasons (out of stock, fraud) skip the customer rules. With nothing left to refund, the
   whole order is cancelled without a refund, whatever those rules say (``CancellationRules``). Refunded
   item by item, the whole order is every unit it had (``_refunded_units``).
4. Return rules (``[returns]`` + ``[returns.reasons.*]``): accepted reason, "all sales final except",
   final-sale SKUs, the window from delivery, waiting days for "not received"/"late", evidence.
5. Amounts: units' values, percentage refunded, restocking fee, shipping (only when the request covers
   every remaining unit), capped at what was paid minus what was already refunded.
6. Supplier recovery per supplier's terms; when the supplier won't cover its cost and
   ``escalation.unrecovered_supplier_cost = "escalate"``, a person approves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from worker.errors import UsageError
from worker.policy.amounts import nothing_left_words
from worker.policy.cancellations import CancellationRules
from worker.policy.decision import Decision
from worker.policy.inputs import (
    DELIVERY_REASONS,
    SHIPPED_STATES,
    FulfillmentState,
    PolicyOrder,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)
from worker.policy.model import Policy
from worker.policy.returns import ReturnRules
from worker.policy.state import Denied, words

PROBLEM_STATES = frozenset({SupplierState.PARTLY_SHIPPED, SupplierState.IN_DISPUTE, SupplierState.UNKNOWN})
FULFILLED_ON_SHOPIFY = frozenset({FulfillmentState.PARTIALLY_FULFILLED, FulfillmentState.FULFILLED})


class InvalidRequestError(UsageError):
    """The request names lines or quantities the order does not have."""


def evaluate(
    policy: Policy,
    request: Request,
    order: PolicyOrder,
    supplier: SupplierSnapshot | Sequence[SupplierSnapshot] | None,
    now: dt.datetime,
) -> Decision:
    """Decide ``request`` on ``order`` under ``policy`` at ``now`` (see the module docstring).

    Raises ``InvalidRequestError`` for a line id the order lacks or a quantity it cannot give.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    suppliers = (supplier,) if isinstance(supplier, SupplierSnapshot) else tuple(supplier or ())
    units = requested_units(request, order) or _refunded_units(request, order)
    return _Evaluation(policy, request, order, suppliers, now, units).run()


def requested_units(request: Request, order: PolicyOrder) -> dict[str, int]:
    """Line id → units asked for; an empty request means every remaining unit of the order."""
    if not request.items:
        return {line.line_id: line.remaining_quantity for line in order.lines if line.remaining_quantity > 0}
    units: dict[str, int] = {}
    for line_id, quantity in request.items.items():
        line = order.line(line_id)
        if line is None:
            raise InvalidRequestError(f"line {line_id} is not in order {order.name or ''}".rstrip())
        if quantity <= 0:
            raise InvalidRequestError(f"line {line_id}: quantity must be at least 1, got {quantity}")
        if quantity > line.remaining_quantity:
            raise InvalidRequestError(
                f"line {line_id}: {quantity} asked, only {line.remaining_quantity} left to cancel or refund"
            )
        units[line_id] = quantity
    return units


def _refunded_units(request: Request, order: PolicyOrder) -> dict[str, int]:
    """For a cancellation of an order with no unit left: every unit it had.

    The admin's usual refund is item by item: every line's refundable quantity drops to 0, so "every
    remaining unit" is none, and refusing would ship the goods to a customer who has the items' money back.
    Counted whole, the order is cancelled and the supplier orders supplying it are asked to cancel. With
    nothing left to refund, no money moves (``CancellationRules._cancellation_without_refund``); with some
    (the admin's item refund leaves the shipping out unless the merchant adds it), the cancellation rules
    decide as for any cancellation, the units worth nothing more and the shipping refunded if they say so.
    A line taken off by an order edit cannot be told apart from a refunded one (both leave the line no
    remaining unit, ``adapters._order_line``): it is counted too, as the workflow follows every supplier
    order of a whole-order cancellation anyway. A return gets nothing (today's refusal).
    """
    if request.kind is not RequestKind.CANCEL:
        return {}
    return {line.line_id: line.quantity for line in order.lines if line.quantity > 0}


class _Evaluation(CancellationRules, ReturnRules):
    """The flow: common refusals, then which rules apply (cancellation or return), then the decision."""

    # --- flow -------------------------------------------------------------------------------------

    def run(self) -> Decision:
        try:
            return self._decide()
        except Denied as denial:
            self.notes.append(denial.sentence)
            return self._denial()

    def _decide(self) -> Decision:
        order = self.order
        if order.cancelled:
            raise Denied("The order is already cancelled.")
        if self.kind is RequestKind.RETURN and self._nothing_left():
            raise Denied(nothing_left_words(order) + ".")
        if not self.units:
            raise Denied("Every item of the order has already been refunded or removed.")
        if self.reason in self.policy.escalation.reasons:
            self.escalations.append(f"Requests for '{words(self.reason)}' always go to a person (escalation.reasons).")
        shipped = self._shipped()
        if self.kind is RequestKind.CANCEL and shipped:
            if self.reason not in DELIVERY_REASONS:
                raise Denied(
                    "The goods have shipped: a cancellation is no longer possible; once delivered, the "
                    "customer may ask for a return under the return rules."
                )
            self.notes.append(f"The goods have shipped: '{words(self.reason)}' is handled as a return.")
            self.kind = RequestKind.RETURN
            if self._nothing_left():
                raise Denied(nothing_left_words(order) + ".")
        elif self.kind is RequestKind.RETURN and not shipped:
            self.notes.append("Nothing has shipped yet: the request is handled as a cancellation.")
            self.kind = RequestKind.CANCEL
        return self._cancellation() if self.kind is RequestKind.CANCEL else self._return()

    def _shipped(self) -> bool:
        """Whether the requested goods left the supplier; unclear or mixed states add an escalation."""
        states = [s.state for s in self.suppliers] or [SupplierState.NONE]
        problem = next((s for s in states if s in PROBLEM_STATES), None)
        if problem is not None:
            self.escalations.append(self._problem_sentence(problem))
        supplier_shipped = [s in SHIPPED_STATES for s in states if s not in PROBLEM_STATES]
        if supplier_shipped and any(supplier_shipped) and not all(supplier_shipped):
            self.escalations.append(
                "The request covers items from supplier orders that shipped and others that did not: "
                "split the request or decide by hand."
            )
        # Mixed or partly shipped: treated as not shipped (so nothing is denied) and escalated above.
        shipped = bool(supplier_shipped) and all(supplier_shipped)
        on_shopify = self.order.fulfillment in FULFILLED_ON_SHOPIFY
        if on_shopify and not shipped:
            if self.suppliers:
                self.escalations.append(
                    f"Shopify shows the order {self.order.fulfillment.value.replace('_', ' ')} but the "
                    "supplier has not shipped: check which is right before acting."
                )
            return True
        return shipped

    @staticmethod
    def _problem_sentence(state: SupplierState) -> str:
        return {
            SupplierState.PARTLY_SHIPPED: "The supplier has shipped part of the order: a person decides "
            "what can still be cancelled.",
            SupplierState.IN_DISPUTE: "A dispute is open with the supplier: a person decides once it is resolved.",
            SupplierState.UNKNOWN: "The supplier order's state is not recognised: a person checks it on AliExpress.",
        }[state]
