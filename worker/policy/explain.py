"""``explain``: the policy in plain sentences, grouped by section (``dropsync policy explain``)."""

from __future__ import annotations

from worker.policy.inputs import DELIVERY_REASONS, STORE_REASONS, Reason
from worker.policy.model import CancelUntil, EffectiveRule, Fallback, Payer, Policy, RefundMethod, SupplierTerms


def _label(reason: Reason) -> str:
    return reason.value.replace("_", " ")


def _method(method: RefundMethod) -> str:
    return "the original payment method" if method is RefundMethod.ORIGINAL else "store credit"


def explain(policy: Policy) -> dict[str, list[str]]:
    """Section title → sentences a store owner (or an operator) can check against what they meant."""
    return {
        "Cancellations": _cancellations(policy),
        "Returns": _returns(policy),
        "Reasons": [_reason(policy.rule(r)) for r in Reason if r not in STORE_REASONS],
        "Suppliers": [_supplier(policy.supplier_terms(n)) for n in ["default", *policy.named_suppliers()]],
        "Escalation": _escalation(policy),
    }


def explain_lines(policy: Policy, source: str) -> list[str]:
    """The text ``dropsync policy explain`` prints, line by line (chargeback evidence quotes it verbatim)."""
    lines = [f"Policy: {source} (version {policy.version})"]
    for title, sentences in explain(policy).items():
        lines += ["", title, *(f"  - {sentence}" for sentence in sentences)]
    return lines


def _cancellations(policy: Policy) -> list[str]:
    rules = policy.cancellation
    if not rules.allowed or rules.until is CancelUntil.NEVER:
        return ["Customers cannot cancel; only the store cancels (out of stock, fraud)."]
    until = {
        CancelUntil.BEFORE_SHIPMENT: "until the supplier ships (once paid, the seller must agree)",
        CancelUntil.BEFORE_SUPPLIER_PAYMENT: "until the store pays the supplier",
    }[rules.until]
    sentences = [f"Customers may cancel {until}; never after shipment."]
    if rules.window_hours:
        after = "refused" if rules.after_window is Fallback.DENY else "sent to a person"
        sentences.append(f"Only within {rules.window_hours} hours of ordering; later requests are {after}.")
    refused = [_label(r) for r in Reason if r not in rules.reasons and r not in STORE_REASONS]
    if refused:
        sentences.append(f"Cancellations for these reasons are refused: {', '.join(refused)}.")
    sentences.append("Shipping is refunded." if rules.refund_shipping else "Shipping is not refunded.")
    if rules.fee_percent:
        sentences.append(f"A {rules.fee_percent.normalize():f}% cancellation fee is kept.")
    sentences.append(f"Refunds go to {_method(rules.refund_method)}.")
    sentences.append("The customer is notified." if rules.notify_customer else "The customer is not notified.")
    return sentences


def _returns(policy: Policy) -> list[str]:
    returns = policy.returns
    sentences = [
        f"Returns are accepted up to {returns.window_days} days after delivery (unless a reason says otherwise)."
    ]
    if returns.all_sales_final:
        kept = ", ".join(_label(r) for r in returns.final_sale_except) or "nothing"
        sentences.append(f"All sales are final except: {kept}.")
    if returns.final_sale_skus:
        sentences.append(f"Final-sale SKUs (no return except as above): {', '.join(returns.final_sale_skus)}.")
    missing = "refused" if returns.missing_evidence is Fallback.DENY else "sent to a person, who asks for it"
    sentences.append(f"A request without the evidence its reason needs is {missing}.")
    sentences.append("The customer is notified." if returns.notify_customer else "The customer is not notified.")
    return sentences


def _reason(rule: EffectiveRule) -> str:
    label = _label(rule.reason)
    if rule.final_sale:
        return f"{label}: refused (all sales final)."
    if rule.accepted is False:
        return f"{label}: refused."
    parts = ["a person decides" if rule.accepted == "escalate" else "accepted"]
    if rule.reason is Reason.NOT_RECEIVED:
        parts.append(f"after {rule.after_days} days without delivery")
    elif rule.reason is Reason.LATE:
        parts.append(f"when delivery takes more than {rule.after_days} days")
    if rule.reason not in DELIVERY_REASONS or rule.reason is Reason.LATE:
        parts.append(f"within {rule.window_days} days of delivery")
    if rule.evidence:
        parts.append(f"with {' and '.join(e.value for e in rule.evidence)}")
    if rule.return_required:
        payer = "the customer" if rule.return_shipping_paid_by is Payer.CUSTOMER else "the store"
        parts.append(f"goods sent back at {payer}'s cost")
    else:
        parts.append("the customer keeps the goods")
    if rule.refund_percent < 100:
        parts.append(f"{rule.refund_percent.normalize():f}% refunded")
    if rule.return_required and rule.restocking_fee_percent:
        parts.append(f"{rule.restocking_fee_percent.normalize():f}% restocking fee")
    parts.append("shipping refunded" if rule.refund_shipping else "shipping not refunded")
    parts.append(f"refund to {_method(rule.refund_method)}")
    return f"{label}: {', '.join(parts)}."


def _supplier(terms: SupplierTerms) -> str:
    who = "Default supplier terms" if terms.name == "default" else f'Supplier "{terms.name}"'
    cancel = (
        "cancels paid orders before shipment with consent"
        if terms.cancel_before_shipment
        else "does not cancel paid orders"
    )
    reasons = ", ".join(_label(r) for r in terms.refund_reasons) or "nothing"
    recovery = "" if terms.recovery_percent == 100 else f", {terms.recovery_percent.normalize():f}% of the amount"
    return (
        f"{who}: {cancel}; ships within {terms.handling_days} business days; refunds {reasons} within "
        f"{terms.return_window_days} days of delivery (buyer protection {terms.protection_days} days){recovery}; "
        f"{'shipping included' if terms.refunds_shipping else 'shipping not refunded'}; money back within "
        f"{terms.refund_delay_days} business days."
    )


def _escalation(policy: Policy) -> list[str]:
    sentences = []
    if policy.escalation.reasons:
        sentences.append(f"Always sent to a person: {', '.join(_label(r) for r in policy.escalation.reasons)}.")
    if policy.escalation.unrecovered_supplier_cost == "escalate":
        sentences.append("A refund the supplier will not cover in full is sent to a person.")
    else:
        sentences.append("Refunds the supplier will not cover are made anyway (the store bears the cost).")
    sentences.append("Disputes, partly shipped or unrecognised supplier orders are always sent to a person.")
    return sentences
