"""Cancellation rules: allowed, reasons, until when, the window in hours, and the supplier's consent."""

from __future__ import annotations

from decimal import Decimal

from worker.money import zero
from worker.policy.amounts import Settlement, nothing_left_words, remaining_shipping
from worker.policy.decision import Action, Decision
from worker.policy.inputs import CANCELLABLE_STATES, STORE_REASONS, FulfillmentState, SupplierSnapshot, SupplierState
from worker.policy.model import CancelUntil, Fallback, RefundMethod, SupplierTerms
from worker.policy.state import Denied, EvaluationState, words


class CancellationRules(EvaluationState):
    """Rules for a cancellation: ``[cancellation]``, Shopify's fulfillment state, the supplier's consent."""

    def _cancellation(self) -> Decision:
        rules = self.policy.cancellation
        if self._nothing_left():
            return self._cancellation_without_refund()
        if self.reason in STORE_REASONS:
            self.notes.append(f"'{words(self.reason)}' is the store's own reason: the customer rules do not apply.")
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

    def _cancellation_without_refund(self) -> Decision:
        """The customer already has all their money back (refunded in Shopify's admin, or taken back by their
        bank through a chargeback not won) and nothing has shipped: the order is cancelled with no refund.

        Refusing would ship the goods to a customer who was paid back, and pay the supplier for them. The
        customer rules (allowed, reasons, window) guard the store's money; none moves here, so they do not
        apply. The supplier side is as for any cancellation (ask the seller, expect its refund). Only the
        whole order: cancelling some items on Shopify is a refund of those lines, and there is none to make.
        """
        if not self._whole_order():
            raise Denied(
                nothing_left_words(self.order) + ". Only the whole order can be cancelled without a refund: "
                "ask for every item."
            )
        self.notes.append(
            nothing_left_words(self.order) + ". The order is cancelled without a refund: the customer already "
            "has the money back."
        )
        self._shopify_cancel_notes()
        none = zero(self.order.currency)
        nothing = Settlement(tuple(none for _ in self.units), shipping=none, fee=none, kept_by_percent=none,
                             capped_from=None)  # fmt: skip
        notify = self.policy.cancellation.notify_customer
        recoveries = self._recoveries(self._cancel_coverage)
        return self._decision(Action.CANCEL, nothing, RefundMethod.ORIGINAL, notify, recoveries, restock=True)

    def _check_cancellation_allowed(self) -> None:
        rules = self.policy.cancellation
        if not rules.allowed:
            raise Denied("The store does not accept cancellations (cancellation.allowed = false).")
        if self.reason not in rules.reasons:
            raise Denied(f"Cancellations for '{words(self.reason)}' are not accepted (cancellation.reasons).")
        if rules.until is CancelUntil.NEVER:
            raise Denied("The store does not accept cancellations once an order is placed (cancellation.until).")
        paid = [s for s in self.suppliers if s.state in CANCELLABLE_STATES]
        if rules.until is CancelUntil.BEFORE_SUPPLIER_PAYMENT and paid:
            raise Denied(
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
                    raise Denied(sentence)
                self.escalations.append(sentence + " A person decides (cancellation.after_window).")
            else:
                self.notes.append(f"Asked {hours} hours after ordering, within the {rules.window_hours}-hour window.")
        self.notes.append(f"Cancellations for '{words(self.reason)}' are accepted until the supplier ships.")

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
