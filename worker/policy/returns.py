"""Return rules: accepted reason, all sales final, final-sale SKUs, timing, evidence, supplier coverage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from worker.money import zero
from worker.policy.amounts import remaining_shipping
from worker.policy.decision import Decision
from worker.policy.inputs import DELIVERY_REASONS, Evidence, Reason, SupplierSnapshot, SupplierState
from worker.policy.model import EffectiveRule, Fallback, Payer, SupplierTerms
from worker.policy.state import Denied, EvaluationState, days, words


class ReturnRules(EvaluationState):
    """Rules for a return: the reason's table over ``[returns]``, then amounts and supplier coverage."""

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
        label = words(self.reason)
        if rule.final_sale:
            allowed = ", ".join(words(r) for r in self.policy.returns.final_sale_except) or "nothing"
            raise Denied(f"All sales are final except for: {allowed} (returns.all_sales_final).")
        if rule.accepted is False:
            raise Denied(f"Returns for '{label}' are not accepted (returns.reasons.{self.reason.value}.accepted).")
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
                f"Final-sale items are taken back for '{words(self.reason)}' (returns.final_sale_except)."
            )
            return
        for line_id in final:
            del self.units[line_id]
        if not self.units:
            raise Denied("Every item asked for is a final-sale item (returns.final_sale_skus).")
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
            if not self.suppliers:
                # Fulfilled by the store itself (no supplier order recorded): no delivery date to go by.
                self.escalations.append(
                    "No delivery date is recorded (no supplier order): a person checks the return window."
                )
                return
            raise Denied(
                f"The parcel has not been delivered yet: a return for '{words(self.reason)}' "
                "can be asked once it arrives."
            )
        else:
            self._check_window(rule, delivered_at)

    def _check_window(self, rule: EffectiveRule, delivered_at: dt.datetime) -> None:
        age = days(self.now - delivered_at)
        if age > rule.window_days:
            raise Denied(
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
        waited = days(self.now - since)
        if waited < rule.after_days:
            raise Denied(
                f"'Not received' is accepted {rule.after_days} days after shipment; "
                f"it has been {waited} days since {what}."
            )
        self.notes.append(f"Not delivered {waited} days after {what} (accepted after {rule.after_days} days).")

    def _check_late(self, rule: EffectiveRule, delivered_at: dt.datetime | None) -> None:
        end = delivered_at or self.now
        took = days(end - self.order.created_at)
        state = "delivered" if delivered_at else "still not delivered"
        if took <= rule.after_days:
            raise Denied(
                f"The parcel was {state} {took} days after the order: 'late' means more than {rule.after_days} days."
            )
        self.notes.append(f"The parcel was {state} {took} days after the order (late after {rule.after_days} days).")
        if delivered_at is not None:
            self._check_window(rule, delivered_at)

    def _check_evidence(self, rule: EffectiveRule) -> None:
        if not rule.evidence:
            return
        provided = set(self.request.evidence)
        if any(s.has_tracking for s in self.suppliers):
            provided.add(Evidence.TRACKING)  # the supplier order's tracking is on record: screenshots can be taken
        missing = [e.value for e in rule.evidence if e not in provided]
        if not missing:
            self.notes.append(f"Evidence provided as required: {', '.join(e.value for e in rule.evidence)}.")
            return
        sentence = f"Evidence required for '{words(self.reason)}' is missing: {', '.join(missing)}."
        if self.policy.returns.missing_evidence is Fallback.DENY:
            raise Denied(sentence)
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
        name, label = supplier.supplier, words(self.reason)
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
        if delivered_at is not None and days(self.now - delivered_at) > terms.return_window_days:
            return False, f"Supplier {name} accepts '{label}' only within {terms.return_window_days} days of delivery"
        return (
            True,
            f"Supplier {name} refunds '{label}' through a dispute within {terms.return_window_days} days of delivery",
        )
