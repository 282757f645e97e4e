"""``lint``: where the store promises more than its suppliers cover, with the money at risk per order.

A store that refunds what its supplier won't pays out of its own pocket (DOMAIN.md §1). Each warning
names the policy key to change, the supplier concerned, and the amount at risk for one order of the
given value (the policy's ``store.typical_order_value`` unless another is passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from worker.money import format_money, round_money
from worker.policy.amounts import HUNDRED
from worker.policy.inputs import DELIVERY_REASONS, STORE_REASONS, Reason
from worker.policy.model import CancelUntil, EffectiveRule, Payer, Policy, SupplierTerms


@dataclass(frozen=True)
class LintWarning:
    code: str
    key: str  # the policy key to look at
    supplier: str
    message: str
    money_at_risk: Decimal | None  # per order, in ``currency``; None when the file cannot tell
    currency: str

    def to_dict(self) -> dict[str, Any]:
        risk = None if self.money_at_risk is None else str(self.money_at_risk)
        return {
            "code": self.code,
            "key": self.key,
            "supplier": self.supplier,
            "message": self.message,
            "money_at_risk": risk,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class _Basis:
    order_value: Decimal
    shipping: Decimal
    currency: str

    def money(self, amount: Decimal) -> Decimal:
        return round_money(amount, self.currency)

    def text(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)


def lint(
    policy: Policy,
    order_value: Decimal | None = None,
    currency: str | None = None,
    shipping: Decimal | None = None,
) -> list[LintWarning]:
    """Every gap between the store's promises and each supplier's terms (``[suppliers.default]`` and
    every named supplier), in a stable order: by supplier as written, then cancellations, then reasons."""
    basis = _Basis(
        order_value if order_value is not None else policy.store.typical_order_value,
        shipping if shipping is not None else policy.store.typical_shipping,
        (currency or policy.store.currency).upper(),
    )
    warnings: list[LintWarning] = []
    for name in ["default", *policy.named_suppliers()]:
        terms = policy.supplier_terms(name)
        warnings += _cancellation_gaps(policy, terms, basis)
        for reason in Reason:
            rule = policy.rule(reason)
            if rule.accepted is True and reason not in STORE_REASONS:
                warnings += _return_gaps(rule, terms, basis)
    warnings += _store_paid_return_shipping(policy, basis)
    return warnings


def _who(terms: SupplierTerms) -> str:
    return "the default supplier terms" if terms.name == "default" else f'supplier "{terms.name}"'


def _cancellation_gaps(policy: Policy, terms: SupplierTerms, basis: _Basis) -> list[LintWarning]:
    rules = policy.cancellation
    if not rules.allowed or rules.until is not CancelUntil.BEFORE_SHIPMENT:
        return []
    found: list[LintWarning] = []
    if not terms.cancel_before_shipment:
        found.append(
            LintWarning(
                "cancel-not-covered",
                "cancellation.until",
                terms.name,
                f"Customers may cancel until the supplier ships, but {_who(terms)} do not cancel paid orders: "
                f"up to {basis.text(basis.order_value)} per cancelled order comes out of the store's pocket.",
                basis.money(basis.order_value),
                basis.currency,
            )
        )
    elif rules.refund_shipping and not terms.refunds_shipping:
        found.append(
            LintWarning(
                "cancel-shipping-not-covered",
                "cancellation.refund_shipping",
                terms.name,
                f"Cancellations refund shipping, but {_who(terms)} do not refund shipping: up to "
                f"{basis.text(basis.shipping)} per cancelled order.",
                basis.money(basis.shipping),
                basis.currency,
            )
        )
    return found


def _refund_for(rule: EffectiveRule, basis: _Basis) -> Decimal:
    items = basis.order_value * rule.refund_percent / HUNDRED
    if rule.return_required:
        items -= items * rule.restocking_fee_percent / HUNDRED
    return basis.money(items + (basis.shipping if rule.refund_shipping else 0))


def _return_gaps(rule: EffectiveRule, terms: SupplierTerms, basis: _Basis) -> list[LintWarning]:
    reason, label = rule.reason, rule.reason.value.replace("_", " ")
    key = f"returns.reasons.{reason.value}"
    refund = _refund_for(rule, basis)
    if reason not in terms.refund_reasons:
        message = (
            f"Returns for '{label}' are accepted but {_who(terms)} do not refund them: up to "
            f"{basis.text(refund)} per order comes out of the store's pocket."
        )
        return [LintWarning("reason-not-covered", f"{key}.accepted", terms.name, message, refund, basis.currency)]
    found: list[LintWarning] = []
    if reason not in DELIVERY_REASONS and rule.window_days > terms.return_window_days:
        message = (
            f"The return window for '{label}' is {rule.window_days} days but {_who(terms)} cover only "
            f"{terms.return_window_days} days after delivery: a return between day {terms.return_window_days + 1} "
            f"and day {rule.window_days} costs up to {basis.text(refund)} per order."
        )
        found.append(LintWarning("window-longer", f"{key}.window_days", terms.name, message, refund, basis.currency))
    if reason in DELIVERY_REASONS and rule.after_days >= terms.protection_days:
        message = (
            f"'{label}' claims are accepted only after {rule.after_days} days, when the "
            f"{terms.protection_days}-day buyer protection of {_who(terms)} has ended: up to "
            f"{basis.text(refund)} per order cannot be disputed."
        )
        found.append(LintWarning("after-protection", f"{key}.after_days", terms.name, message, refund, basis.currency))
    if rule.refund_shipping and not terms.refunds_shipping:
        message = (
            f"Returns for '{label}' refund shipping but {_who(terms)} do not: up to "
            f"{basis.text(basis.shipping)} per order."
        )
        risk = basis.money(basis.shipping)
        found.append(
            LintWarning("shipping-not-covered", f"{key}.refund_shipping", terms.name, message, risk, basis.currency)
        )
    if terms.recovery_percent < HUNDRED:
        risk = basis.money(refund * (HUNDRED - terms.recovery_percent) / HUNDRED)
        message = (
            f"{_who(terms).capitalize()} refund only {terms.recovery_percent.normalize():f}% of what was paid: "
            f"a '{label}' refund leaves up to {basis.text(risk)} per order uncovered."
        )
        found.append(
            LintWarning("partial-recovery", "suppliers.recovery_percent", terms.name, message, risk, basis.currency)
        )
    return found


def _store_paid_return_shipping(policy: Policy, basis: _Basis) -> list[LintWarning]:
    paid = [
        r.value
        for r in Reason
        if (rule := policy.rule(r)).accepted is True
        and rule.return_required
        and rule.return_shipping_paid_by is Payer.STORE
    ]
    if not paid:
        return []
    message = (
        f"The store pays return shipping for {', '.join(p.replace('_', ' ') for p in paid)}: no supplier refunds "
        "a return label, and its cost is not in the refund amounts."
    )
    return [
        LintWarning("store-pays-return-shipping", "returns.return_shipping_paid_by", "", message, None, basis.currency)
    ]
