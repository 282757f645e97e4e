"""The working state of one evaluation and what every rule shares: notes, amounts, recovery, the decision.

Rule mixins (``cancellations``, ``returns``) extend it; ``evaluate._Evaluation`` combines them. A rule
that refuses raises ``Denied`` with its sentence; a rule that needs a person appends to
``escalations`` and lets the amounts still be computed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from worker.money import convert, floor_money, format_money, zero
from worker.policy.amounts import (
    HUNDRED,
    Settlement,
    charged_back_words,
    remaining_refundable,
    remaining_shipping,
    settle,
    supplier_cost,
    units_value,
)
from worker.policy.decision import Action, Decision, LineRefund, SupplierRecovery
from worker.policy.inputs import (
    UNPAID_STATES,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)
from worker.policy.inputs_json import inputs_to_dict
from worker.policy.model import Payer, Policy, RefundMethod, SupplierTerms

SHOPIFY_CANCEL_REASONS = {Reason.OUT_OF_STOCK: "INVENTORY", Reason.FRAUD: "FRAUD", Reason.OTHER: "OTHER"}


class Denied(Exception):
    """A rule refused the request; ``sentence`` says which and why."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def words(reason: Reason) -> str:
    return reason.value.replace("_", " ")


def days(delta: dt.timedelta) -> int:
    return delta.days


class EvaluationState:
    """One evaluation's inputs and findings. Notes become ``Decision.reasons``, in order."""

    def __init__(
        self,
        policy: Policy,
        request: Request,
        order: PolicyOrder,
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

    # --- amounts and the decision -----------------------------------------------------------------

    def _nothing_left(self) -> bool:
        """The customer has every bit of the payment back already (refunds, chargebacks not won)."""
        return remaining_refundable(self.order) <= 0

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
                f"{format_money(self.order.already_refunded, currency)} already refunded"
                + charged_back_words(self.order)
                + "."
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
        if not self._nothing_left():  # else no refund is made: naming where it would go only misleads
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
