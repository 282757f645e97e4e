"""``lint`` finds every promise the suppliers don't cover, with the money at risk; ``explain`` says it."""

from __future__ import annotations

from decimal import Decimal

from tests.policy.factories import policy
from worker.policy import DEFAULT_POLICY
from worker.policy.explain import explain
from worker.policy.lint import lint


def _codes(text: str, **kwargs: object) -> list[tuple[str, str, str, str | None]]:
    return [
        (w.code, w.key, w.supplier, None if w.money_at_risk is None else str(w.money_at_risk))
        for w in lint(policy(text), **kwargs)  # type: ignore[arg-type]
    ]


def test_the_built_in_policy_promises_nothing_its_suppliers_do_not_cover() -> None:
    assert lint(DEFAULT_POLICY) == []


def test_a_reason_the_supplier_refuses_puts_the_refund_at_risk() -> None:
    text = "[returns.reasons.changed_mind]\naccepted = true\nrestocking_fee_percent = 10\n"
    assert _codes(text) == [("reason-not-covered", "returns.reasons.changed_mind.accepted", "default", "36.00")]
    warning = lint(policy(text))[0]
    assert (
        "Returns for 'changed mind' are accepted but the default supplier terms do not refund them" in warning.message
    )
    assert "up to 36.00 USD per order" in warning.message


def test_a_longer_window_than_the_supplier_is_flagged_with_the_days_at_risk() -> None:
    warnings = lint(policy("[returns]\nwindow_days = 30\n"), order_value=Decimal("60"), currency="EUR")
    assert [(w.code, w.key, str(w.money_at_risk), w.currency) for w in warnings] == [
        ("window-longer", f"returns.reasons.{reason}.window_days", "60.00", "EUR")
        for reason in ("not_as_described", "damaged", "defective", "wrong_item")
    ]
    assert "a return between day 16 and day 30 costs up to 60.00 EUR per order" in warnings[0].message


def test_refunding_shipping_the_supplier_keeps() -> None:
    text = "[suppliers.default]\nrefunds_shipping = false\n[returns.reasons.damaged]\nrefund_shipping = true\n"
    assert _codes(text) == [
        ("cancel-shipping-not-covered", "cancellation.refund_shipping", "default", "5.00"),
        ("shipping-not-covered", "returns.reasons.damaged.refund_shipping", "default", "5.00"),
        ("shipping-not-covered", "returns.reasons.not_received.refund_shipping", "default", "5.00"),
    ]


def test_cancellations_a_named_supplier_will_not_accept() -> None:
    text = '[suppliers."Acme Store"]\ncancel_before_shipment = false\nrefund_reasons = ["damaged"]\n'
    codes = _codes(text, order_value=Decimal("100"))
    assert ("cancel-not-covered", "cancellation.until", "Acme Store", "100.00") in codes
    not_covered = {c[1] for c in codes if c[0] == "reason-not-covered" and c[2] == "Acme Store"}
    assert not_covered == {
        "returns.reasons.not_as_described.accepted",
        "returns.reasons.defective.accepted",
        "returns.reasons.wrong_item.accepted",
        "returns.reasons.not_received.accepted",
    }
    assert all(c[2] == "Acme Store" for c in codes)


def test_waiting_past_buyer_protection_and_partial_recovery() -> None:
    text = "[returns.reasons.not_received]\nafter_days = 60\n[suppliers.default]\nrecovery_percent = 80\n"
    codes = _codes(text)
    assert ("after-protection", "returns.reasons.not_received.after_days", "default", "45.00") in codes
    assert ("partial-recovery", "suppliers.recovery_percent", "default", "8.00") in codes


def test_store_paid_return_labels_are_flagged_without_an_amount() -> None:
    text = (
        '[escalation]\nunrecovered_supplier_cost = "allow"\n'
        '[returns.reasons.damaged]\nreturn_required = true\nreturn_shipping_paid_by = "store"\n'
    )
    assert _codes(text)[-1] == ("store-pays-return-shipping", "returns.return_shipping_paid_by", "", None)


def test_explain_says_every_section_in_words() -> None:
    sections = explain(DEFAULT_POLICY)
    assert list(sections) == ["Cancellations", "Returns", "Reasons", "Suppliers", "Escalation"]
    assert sections["Cancellations"][0] == (
        "Customers may cancel until the supplier ships (once paid, the seller must agree); never after shipment."
    )
    reasons = sections["Reasons"]
    assert "changed mind: refused." in reasons
    assert (
        "damaged: accepted, within 15 days of delivery, with photos, the customer keeps the goods, "
        "shipping not refunded, refund to the original payment method." in reasons
    )
    assert sections["Suppliers"][0].startswith("Default supplier terms: cancels paid orders before shipment")


def test_explain_follows_the_file() -> None:
    text = (
        '[cancellation]\nwindow_hours = 24\nafter_window = "escalate"\nfee_percent = 5\n'
        '[returns]\nall_sales_final = true\nfinal_sale_except = ["damaged"]\nfinal_sale_skus = ["GIFT"]\n'
        "[returns.reasons.damaged]\nrestocking_fee_percent = 10\nreturn_required = true\n"
        'refund_method = "store_credit"\n'
        '[suppliers."Acme"]\nrecovery_percent = 50\n'
    )
    sections = explain(policy(text))
    assert "Only within 24 hours of ordering; later requests are sent to a person." in sections["Cancellations"]
    assert "A 5% cancellation fee is kept." in sections["Cancellations"]
    assert "All sales are final except: damaged." in sections["Returns"]
    assert "Final-sale SKUs (no return except as above): GIFT." in sections["Returns"]
    assert "changed mind: refused (all sales final)." in sections["Reasons"]
    damaged = next(s for s in sections["Reasons"] if s.startswith("damaged"))
    assert "10% restocking fee" in damaged
    assert "refund to store credit" in damaged
    assert any(s.startswith('Supplier "Acme"') and "50% of the amount" in s for s in sections["Suppliers"])
