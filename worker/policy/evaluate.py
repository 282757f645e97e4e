"""``evaluate``: the store's rules applied to one request. Pure: values in, a frozen ``Decision`` out.

No I/O and no clock: ``now`` is a parameter, so the same inputs and policy version always give the
same decision (a stored decision can be replayed). The rules, in the order they apply:

1. A cancelled order, or one with nothing left to refund, is denied; reasons listed in
   ``escalation.reasons`` go to a person.
2. The supplier side decides what is still possible: unpaid or paid-but-unshipped → a cancellation;
   shipped or delivered → a return (a cancel for "not received"/"late" after shipment is handled as a
   return; any other cancel after shipment is denied: the goods are on their way). Supplier orders in
   dispute, partly shipped, of unknown state, or in mixed states across the request → a person.
3. Cancellation rules (``[cancellation]``): allowed, reasons, until when, the window in hours. The
   store's own reasons (out of stock, fraud) skip the customer rules.
4. Return rules (``[returns]`` + ``[returns.reasons.*]``): accepted reason, "all sales final except",
   final-sale SKUs, the window from delivery, waiting days for "not received"/"late", evidence.
5. Amounts: units' values, percentage refunded, restocking fee, shipping (only when the request covers
   every remaining unit), capped at what was paid minus what was already refunded.
6. Supplier recovery per supplier's terms; when the supplier won't cover its cost and
   ``escalation.unrecovered_supplier_cost = "escalate"``, a person approves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from worker.errors import UsageError
from worker.money import convert, floor_money, format_money, zero
from worker.policy.amounts import (
    HUNDRED,
    Settlement,
    remaining_refundable,
    remaining_shipping,
    settle,
    supplier_cost,
    units_value,
)
from worker.policy.decision import Action, Decision, LineRefund, SupplierRecovery
from worker.policy.inputs import (
    CANCELLABLE_STATES,
    DELIVERY_REASONS,
    SHIPPED_STATES,
    STORE_REASONS,
    UNPAID_STATES,
    FulfillmentState,
    OrderLine,
    OrderSnapshot,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)
from worker.policy.model import CancelUntil, EffectiveRule, Fallback, Payer, Policy, RefundMethod, SupplierTerms
from worker.policy.replay import inputs_to_dict

PROBLEM_STATES = frozenset({SupplierState.PARTLY_SHIPPED, SupplierState.IN_DISPUTE, SupplierState.UNKNOWN})
FULFILLED_ON_SHOPIFY = frozenset({FulfillmentState.PARTIALLY_FULFILLED, FulfillmentState.FULFILLED})
SHOPIFY_CANCEL_REASONS = {Reason.OUT_OF_STOCK: "INVENTORY", Reason.FRAUD: "FRAUD", Reason.OTHER: "OTHER"}


class InvalidRequestError(UsageError):
    """The request names lines or quantities the order does not have."""


class _Denied(Exception):
    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def evaluate(
    policy: Policy,
    request: Request,
    order: OrderSnapshot,
    supplier: SupplierSnapshot | Sequence[SupplierSnapshot] | None,
    now: dt.datetime,
) -> Decision:
    """Decide ``request`` on ``order`` under ``policy`` at ``now`` (see the module docstring).

    Raises ``InvalidRequestError`` for a line id the order lacks or a quantity it cannot give.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    suppliers = (supplier,) if isinstance(supplier, SupplierSnapshot) else tuple(supplier or ())
    units = requested_units(request, order)
    return _Evaluation(policy, request, order, suppliers, now, units).run()


def requested_units(request: Request, order: OrderSnapshot) -> dict[str, int]:
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


def _label(reason: Reason) -> str:
    return reason.value.replace("_", " ")


def _days(delta: dt.timedelta) -> int:
    return delta.days


class _Evaluation:
    """One evaluation's working state; ``run`` is the only entry. Notes become ``Decision.reasons``."""

    def __init__(
        self,
        policy: Policy,
        request: Request,
        order: OrderSnapshot,
        suppliers: tuple[SupplierSnapshot, ...],
        now: dt.datetime,
        units: dict[str, int],
    ) -> None:
        self.policy = policy
        self.request = request
        self.reason = request.reason
        self.order = order
        self.now = now
        self.units = units
        self.inputs = inputs_to_dict(request, order, suppliers, now)
        self.suppliers = tuple(s for s in suppliers if any(s.covers(line_id) for line_id in units))
        self.kind = request.kind
        self.notes: list[str] = []
        self.escalations: list[str] = []

    # --- flow -------------------------------------------------------------------------------------

    def run(self) -> Decision:
        try:
            return self._decide()
        except _Denied as denial:
            self.notes.append(denial.sentence)
            return self._denial()

    def _decide(self) -> Decision:
        order = self.order
        if order.cancelled:
            raise _Denied("The order is already cancelled.")
        if remaining_refundable(order) <= 0:
            raise _Denied(
                f"Nothing is left to refund: {format_money(order.total_paid, order.currency)} paid, "
                f"{format_money(order.already_refunded, order.currency)} already refunded."
            )
        if not self.units:
            raise _Denied("Every item of the order has already been refunded or removed.")
        if self.reason in self.policy.escalation.reasons:
            self.escalations.append(f"Requests for '{_label(self.reason)}' always go to a person (escalation.reasons).")
        shipped = self._shipped()
        if self.kind is RequestKind.CANCEL and shipped:
            if self.reason not in DELIVERY_REASONS:
                raise _Denied(
                    "The goods have shipped: a cancellation is no longer possible; once delivered, the "
                    "customer may ask for a return under the return rules."
                )
            self.notes.append(f"The goods have shipped: '{_label(self.reason)}' is handled as a return.")
            self.kind = RequestKind.RETURN
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

    # --- cancellations ----------------------------------------------------------------------------

    def _cancellation(self) -> Decision:
        rules = self.policy.cancellation
        if self.reason in STORE_REASONS:
            self.notes.append(f"'{_label(self.reason)}' is the store's own reason: the customer rules do not apply.")
        else:
            self._check_cancellation_allowed()
        self._shopify_cancel_notes()
        whole = self._whole_order()
        shipping = remaining_shipping(self.order) if whole and rules.refund_shipping else zero(self.order.currency)
        self._shipping_note(whole, rules.refund_shipping, "cancellation.refund_shipping")
        own = self.reason in STORE_REASONS
        method = RefundMethod.ORIGINAL if own else rules.refund_method
        settlement = self._settle(shipping, Decimal(100), Decimal(0) if own else rules.fee_percent, "cancellation fee")
        recoveries = self._recoveries(self._cancel_coverage)
        action = Action.CANCEL if whole else self._refund_action(settlement)
        return self._decision(action, settlement, method, rules.notify_customer, recoveries, restock=True)

    def _check_cancellation_allowed(self) -> None:
        rules = self.policy.cancellation
        if not rules.allowed:
            raise _Denied("The store does not accept cancellations (cancellation.allowed = false).")
        if self.reason not in rules.reasons:
            raise _Denied(f"Cancellations for '{_label(self.reason)}' are not accepted (cancellation.reasons).")
        if rules.until is CancelUntil.NEVER:
            raise _Denied("The store does not accept cancellations once an order is placed (cancellation.until).")
        paid = [s for s in self.suppliers if s.state in CANCELLABLE_STATES]
        if rules.until is CancelUntil.BEFORE_SUPPLIER_PAYMENT and paid:
            raise _Denied(
                "Cancellations are accepted only until the store pays the supplier, and the supplier order "
                f"is already paid ({paid[0].state.value.replace('_', ' ')})."
            )
        if rules.window_hours:
            hours = int((self.now - self.order.created_at).total_seconds() // 3600)
            if hours >= rules.window_hours:
                sentence = (
                    f"Cancellations are accepted within {rules.window_hours} hours of ordering; this order "
                    f"was placed {hours} hours ago."
                )
                if rules.after_window is Fallback.DENY:
                    raise _Denied(sentence)
                self.escalations.append(sentence + " A person decides (cancellation.after_window).")
            else:
                self.notes.append(f"Asked {hours} hours after ordering, within the {rules.window_hours}-hour window.")
        self.notes.append(f"Cancellations for '{_label(self.reason)}' are accepted until the supplier ships.")

    def _shopify_cancel_notes(self) -> None:
        fulfillment = self.order.fulfillment
        if fulfillment is FulfillmentState.REQUESTED:
            self.notes.append("Shopify: the fulfillment request is withdrawn first (fulfillmentOrderCancel).")
        elif fulfillment is FulfillmentState.ACCEPTED:
            self.notes.append(
                "Shopify: the fulfillment service accepted the order; it must accept a cancellation request "
                "before the order can be cancelled."
            )

    def _cancel_coverage(self, supplier: SupplierSnapshot, terms: SupplierTerms) -> tuple[bool, str]:
        name = supplier.supplier
        if supplier.state is SupplierState.CLOSED_CANCELLED:
            return True, f"Supplier {name} has already cancelled its order"
        if supplier.state not in CANCELLABLE_STATES:
            return (
                False,
                f"Supplier order with {name} is {supplier.state.value.replace('_', ' ')}: no refund is counted",
            )
        if terms.cancel_before_shipment:
            return True, f"Supplier {name} cancels paid orders before shipment with its consent (ask on AliExpress)"
        return False, f"Supplier {name} does not cancel paid orders (suppliers.cancel_before_shipment = false)"

    # --- returns ----------------------------------------------------------------------------------

    def _return(self) -> Decision:
        rule = self.policy.rule(self.reason)
        self._check_reason_accepted(rule)
        self._drop_final_sale_lines()
        delivered_at = self._delivered_at()
        self._check_timing(rule, delivered_at)
        self._check_evidence(rule)
        whole = self._whole_order()
        shipping = remaining_shipping(self.order) if whole and rule.refund_shipping else zero(self.order.currency)
        self._shipping_note(whole, rule.refund_shipping, f"returns.reasons.{self.reason.value}.refund_shipping")
        self._return_shipping_note(rule)
        fee = rule.restocking_fee_percent if rule.return_required else Decimal(0)
        settlement = self._settle(shipping, rule.refund_percent, fee, "restocking fee")
        recoveries = self._recoveries(lambda s, t: self._return_coverage(s, t, delivered_at), rule.refund_percent)
        action = self._refund_action(settlement)
        return self._decision(
            action,
            settlement,
            rule.refund_method,
            self.policy.returns.notify_customer,
            recoveries,
            restock=rule.return_required,
            return_required=rule.return_required,
            payer=rule.return_shipping_paid_by if rule.return_required else None,
        )

    def _check_reason_accepted(self, rule: EffectiveRule) -> None:
        label = _label(self.reason)
        if rule.final_sale:
            allowed = ", ".join(_label(r) for r in self.policy.returns.final_sale_except) or "nothing"
            raise _Denied(f"All sales are final except for: {allowed} (returns.all_sales_final).")
        if rule.accepted is False:
            raise _Denied(f"Returns for '{label}' are not accepted (returns.reasons.{self.reason.value}.accepted).")
        if rule.accepted == "escalate":
            self.escalations.append(f"Returns for '{label}' are decided by a person (accepted = \"escalate\").")
        else:
            self.notes.append(f"Returns for '{label}' are accepted.")

    def _drop_final_sale_lines(self) -> None:
        returns = self.policy.returns
        skus = set(returns.final_sale_skus)
        if not skus:
            return
        final = [lid for lid in self.units if (line := self.order.line(lid)) and line.sku in skus]
        if not final:
            return
        if self.reason in returns.final_sale_except:
            self.notes.append(
                f"Final-sale items are taken back for '{_label(self.reason)}' (returns.final_sale_except)."
            )
            return
        for line_id in final:
            del self.units[line_id]
        if not self.units:
            raise _Denied("Every item asked for is a final-sale item (returns.final_sale_skus).")
        self.notes.append(f"Final-sale items are excluded: lines {', '.join(final)} (returns.final_sale_skus).")

    def _delivered_at(self) -> dt.datetime | None:
        dates = [s.delivered_at for s in self.suppliers if s.delivered_at is not None]
        if self.order.delivered_at is not None:
            dates.append(self.order.delivered_at)
        return max(dates) if dates else None

    def _delivered_state(self) -> bool:
        return any(s.state in (SupplierState.DELIVERED, SupplierState.CLOSED_COMPLETED) for s in self.suppliers)

    def _check_timing(self, rule: EffectiveRule, delivered_at: dt.datetime | None) -> None:
        if self.reason is Reason.NOT_RECEIVED:
            self._check_not_received(rule, delivered_at)
        elif self.reason is Reason.LATE:
            self._check_late(rule, delivered_at)
        elif delivered_at is None:
            if self._delivered_state():
                self.escalations.append(
                    "The parcel is marked delivered without a date: the return window cannot be checked."
                )
                return
            raise _Denied(
                f"The parcel has not been delivered yet: a return for '{_label(self.reason)}' "
                "can be asked once it arrives."
            )
        else:
            self._check_window(rule, delivered_at)

    def _check_window(self, rule: EffectiveRule, delivered_at: dt.datetime) -> None:
        age = _days(self.now - delivered_at)
        if age > rule.window_days:
            raise _Denied(
                f"The return window is {rule.window_days} days from delivery; the parcel was delivered {age} days ago."
            )
        self.notes.append(f"Delivered {age} days ago, within the {rule.window_days}-day return window.")

    def _check_not_received(self, rule: EffectiveRule, delivered_at: dt.datetime | None) -> None:
        if delivered_at is not None or self._delivered_state():
            when = f" on {delivered_at.date().isoformat()}" if delivered_at else ""
            self.escalations.append(
                f"Tracking shows the parcel delivered{when} but the customer says it did not arrive: a person "
                "checks (AliExpress dispute reason: marked delivered but not received)."
            )
            return
        shipped = [s.shipped_at for s in self.suppliers if s.shipped_at is not None]
        since, what = (min(shipped), "shipment") if shipped else (self.order.created_at, "the order")
        waited = _days(self.now - since)
        if waited < rule.after_days:
            raise _Denied(
                f"'Not received' is accepted {rule.after_days} days after shipment; "
                f"it has been {waited} days since {what}."
            )
        self.notes.append(f"Not delivered {waited} days after {what} (accepted after {rule.after_days} days).")

    def _check_late(self, rule: EffectiveRule, delivered_at: dt.datetime | None) -> None:
        end = delivered_at or self.now
        took = _days(end - self.order.created_at)
        state = "delivered" if delivered_at else "still not delivered"
        if took <= rule.after_days:
            raise _Denied(
                f"The parcel was {state} {took} days after the order: 'late' means more than {rule.after_days} days."
            )
        self.notes.append(f"The parcel was {state} {took} days after the order (late after {rule.after_days} days).")
        if delivered_at is not None:
            self._check_window(rule, delivered_at)

    def _check_evidence(self, rule: EffectiveRule) -> None:
        if not rule.evidence:
            return
        missing = [e.value for e in rule.evidence if e not in self.request.evidence]
        if not missing:
            self.notes.append(f"Evidence provided as required: {', '.join(e.value for e in rule.evidence)}.")
            return
        sentence = f"Evidence required for '{_label(self.reason)}' is missing: {', '.join(missing)}."
        if self.policy.returns.missing_evidence is Fallback.DENY:
            raise _Denied(sentence)
        self.escalations.append(sentence + " A person asks the customer for it (returns.missing_evidence).")

    def _return_shipping_note(self, rule: EffectiveRule) -> None:
        if not rule.return_required:
            self.notes.append("The customer keeps the goods: no return shipment is needed.")
        elif rule.return_shipping_paid_by is Payer.CUSTOMER:
            self.notes.append("The goods must be sent back; the customer pays the return shipping.")
        else:
            self.notes.append("The goods must be sent back; the store pays the return shipping (not in these amounts).")

    def _return_coverage(
        self, supplier: SupplierSnapshot, terms: SupplierTerms, delivered_at: dt.datetime | None
    ) -> tuple[bool, str]:
        name, label = supplier.supplier, _label(self.reason)
        if self.reason not in terms.refund_reasons:
            return False, f"Supplier {name} does not refund '{label}' (suppliers.refund_reasons)"
        if self.reason in DELIVERY_REASONS:
            ends = supplier.protection_ends_at
            start = supplier.shipped_at or supplier.paid_at
            if ends is None and start is not None:
                ends = start + dt.timedelta(days=terms.protection_days)
            if ends is not None and self.now > ends:
                return False, f"Buyer protection with supplier {name} ended on {ends.date().isoformat()}"
            return True, f"Supplier {name} refunds '{label}' through a dispute while buyer protection lasts"
        if delivered_at is not None and _days(self.now - delivered_at) > terms.return_window_days:
            return False, f"Supplier {name} accepts '{label}' only within {terms.return_window_days} days of delivery"
        return (
            True,
            f"Supplier {name} refunds '{label}' through a dispute within {terms.return_window_days} days of delivery",
        )

    # --- amounts and the decision -----------------------------------------------------------------

    def _whole_order(self) -> bool:
        return all(self.units.get(line.line_id, 0) >= line.remaining_quantity for line in self.order.lines)

    def _shipping_note(self, whole: bool, refund_shipping: bool, key: str) -> None:
        if remaining_shipping(self.order) <= 0:
            return
        if not refund_shipping:
            self.notes.append(f"Shipping is not refunded ({key} = false).")
        elif not whole:
            self.notes.append("Shipping is refunded only when every remaining item is refunded.")
        else:
            self.notes.append("Shipping is refunded.")

    def _settle(self, shipping: Decimal, percent: Decimal, fee: Decimal, fee_name: str) -> Settlement:
        currency = self.order.currency
        values = tuple(units_value(self._line(lid), qty, self.order) for lid, qty in self.units.items())
        cap = remaining_refundable(self.order)
        settlement = settle(values, shipping, refund_percent=percent, fee_percent=fee, cap=cap, currency=currency)
        if percent < HUNDRED:
            self.notes.append(f"The rule refunds {percent.normalize():f}% of the items' value.")
        if settlement.fee > 0:
            self.notes.append(f"A {fee.normalize():f}% {fee_name} of {format_money(settlement.fee, currency)} is kept.")
        if settlement.capped_from is not None:
            self.notes.append(
                f"Capped at {format_money(cap, currency)}, what remains of the "
                f"{format_money(self.order.total_paid, currency)} paid after "
                f"{format_money(self.order.already_refunded, currency)} already refunded."
            )
        return settlement

    def _line(self, line_id: str) -> OrderLine:
        line = self.order.line(line_id)
        assert line is not None  # requested_units checked every id
        return line

    def _refund_action(self, settlement: Settlement) -> Action:
        partial = settlement.fee > 0 or settlement.kept_by_percent > 0 or settlement.capped_from is not None
        return Action.REFUND_PARTIAL if partial else Action.REFUND_ITEMS

    def _recoveries(
        self,
        coverage: Callable[[SupplierSnapshot, SupplierTerms], tuple[bool, str]],
        refund_percent: Decimal = HUNDRED,
    ) -> tuple[SupplierRecovery, ...]:
        """Per supplier: the cost at stake and what it is expected to pay back.

        A refund of part of the units' value (``refund_percent``) puts only that part of the supplier's
        cost at stake, and the store claims no more than that from the supplier.
        """
        found: list[SupplierRecovery] = []
        if not self.suppliers:
            self.notes.append(
                "No supplier order has been placed yet: nothing to cancel on the supplier side."
                if self.kind is RequestKind.CANCEL
                else "No supplier order is recorded for these items: nothing is recovered from a supplier."
            )
        for supplier in self.suppliers:
            if supplier.state in UNPAID_STATES:
                self.notes.append(self._unpaid_sentence(supplier))
                continue
            terms = self.policy.supplier_terms(supplier.supplier)
            goods, shipping, _ = supplier_cost(supplier, self.units, self.order)
            goods = floor_money(goods * refund_percent / HUNDRED, supplier.currency)
            shipping = floor_money(shipping * refund_percent / HUNDRED, supplier.currency)
            cost = goods + shipping
            covered, sentence = coverage(supplier, terms)
            expected = zero(supplier.currency)
            if covered:
                back = goods + (shipping if terms.refunds_shipping else 0)
                expected = floor_money(back * terms.recovery_percent / HUNDRED, supplier.currency)
            found.append(self._recovery(supplier, terms, cost, expected, sentence))
        return tuple(found)

    def _unpaid_sentence(self, supplier: SupplierSnapshot) -> str:
        if supplier.state is SupplierState.NONE:
            return "No supplier order has been placed yet: nothing to cancel on the supplier side."
        return f"Supplier order with {supplier.supplier} is not paid yet: cancel it on AliExpress too."

    def _recovery(
        self, supplier: SupplierSnapshot, terms: SupplierTerms, cost: Decimal, expected: Decimal, sentence: str
    ) -> SupplierRecovery:
        rate = self.policy.exchange_rate(supplier.currency, self.order.currency)
        converted = None if rate is None else convert(expected, rate, self.order.currency)
        due = terms.refund_delay_days if expected > 0 else None
        if expected > 0:
            sentence += f": {format_money(expected, supplier.currency)} expected back within {due} business days"
        elif cost > 0:
            sentence += f": the {format_money(cost, supplier.currency)} paid for these items is not recovered"
        self.notes.append(sentence + ".")
        if rate is None and expected > 0:
            self.notes.append(
                f"No exchange rate from {supplier.currency} to {self.order.currency} in the policy "
                "(exchange_rates): the recovery is not counted in the store's exposure."
            )
        return SupplierRecovery(supplier.supplier, supplier.currency, cost, expected, converted, due)

    def _decision(
        self,
        action: Action,
        settlement: Settlement,
        method: RefundMethod,
        notify: bool,
        recoveries: tuple[SupplierRecovery, ...],
        *,
        restock: bool,
        return_required: bool = False,
        payer: Payer | None = None,
    ) -> Decision:
        currency = self.order.currency
        lines = tuple(
            LineRefund(lid, qty, units_value(self._line(lid), qty, self.order), amount, restock)
            for (lid, qty), amount in zip(self.units.items(), settlement.line_amounts, strict=True)
        )
        recovered = sum((r.expected_in_order_currency or zero(currency) for r in recoveries), zero(currency))
        unrecovered = [r for r in recoveries if r.cost > r.expected]
        if unrecovered and settlement.total > 0 and self.policy.escalation.unrecovered_supplier_cost == "escalate":
            short = ", ".join(format_money(r.cost - r.expected, r.currency) for r in unrecovered)
            self.escalations.append(
                f"The supplier will not cover {short} of this refund: a person approves "
                "(escalation.unrecovered_supplier_cost)."
            )
        self.notes.append(
            f"Refund to the {'original payment method' if method is RefundMethod.ORIGINAL else 'store credit'}."
        )
        self.notes.append("The customer is notified." if notify else "The customer is not notified.")
        if self.escalations:
            action = Action.ESCALATE
        return Decision(
            allowed=action not in (Action.DENY, Action.ESCALATE),
            action=action,
            kind=self.kind,
            reason=self.reason,
            currency=currency,
            lines=lines,
            shipping_amount=settlement.shipping,
            restocking_fee=settlement.fee,
            refund_total=settlement.total,
            refund_method=method,
            notify_customer=notify,
            return_required=return_required,
            return_shipping_paid_by=payer,
            shopify_cancel_reason=self._shopify_reason(action),
            expected_supplier_recovery=recovered,
            supplier_recoveries=recoveries,
            store_exposure=settlement.total - recovered,
            reasons=(*self.notes, *self.escalations),
            policy_version=self.policy.version,
            evaluated_at=self.now,
            inputs=self.inputs,
        )

    def _shopify_reason(self, action: Action) -> str | None:
        if action is not Action.CANCEL and not (action is Action.ESCALATE and self.kind is RequestKind.CANCEL):
            return None
        return SHOPIFY_CANCEL_REASONS.get(self.reason, "CUSTOMER")

    def _denial(self) -> Decision:
        currency = self.order.currency
        notify = (
            self.policy.cancellation.notify_customer
            if self.kind is RequestKind.CANCEL
            else self.policy.returns.notify_customer
        )
        return Decision(
            allowed=False,
            action=Action.DENY,
            kind=self.kind,
            reason=self.reason,
            currency=currency,
            lines=(),
            shipping_amount=zero(currency),
            restocking_fee=zero(currency),
            refund_total=zero(currency),
            refund_method=RefundMethod.ORIGINAL,
            notify_customer=notify,
            return_required=False,
            return_shipping_paid_by=None,
            shopify_cancel_reason=None,
            expected_supplier_recovery=zero(currency),
            supplier_recoveries=(),
            store_exposure=zero(currency),
            reasons=(*self.notes, *self.escalations),
            policy_version=self.policy.version,
            evaluated_at=self.now,
            inputs=self.inputs,
        )
