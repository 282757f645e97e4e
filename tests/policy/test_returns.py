"""Table tests: every reason under the built-in policy, then every return rule a store can set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policy.factories import NOW, D, days_ago, order, policy, ret, supplier
from worker.policy import DEFAULT_POLICY, Action, Evidence, PolicyOrder, Reason, RequestKind, SupplierState, evaluate
from worker.policy.inputs import SupplierSnapshot
from worker.policy.model import Payer

S = SupplierState
PHOTOS = (Evidence.PHOTOS,)
TRACKING = (Evidence.TRACKING,)


def _has(reasons: tuple[str, ...], fragment: str) -> bool:
    return any(fragment in sentence for sentence in reasons)


def delivered(days: float = 3, **changes: Any) -> SupplierSnapshot:
    return supplier(S.DELIVERED, delivered_at=days_ago(days), **changes)


def in_transit(shipped_days: float) -> SupplierSnapshot:
    return supplier(S.SHIPPED, shipped_at=days_ago(shipped_days))


EACH_REASON: list[Any] = [
    # reason, evidence, supplier, action, refund total, recovery, sentence
    (
        Reason.NOT_AS_DESCRIBED,
        PHOTOS,
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "Returns for 'not as described' are accepted",
    ),
    (
        Reason.DAMAGED,
        PHOTOS,
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "Evidence provided as required: photos",
    ),
    (Reason.DEFECTIVE, PHOTOS, delivered(), Action.REFUND_ITEMS, "51.00", "20.00", "The customer keeps the goods"),
    (
        Reason.WRONG_ITEM,
        PHOTOS,
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "Delivered 3 days ago, within the 15-day",
    ),
    (Reason.WRONG_SIZE, (), delivered(), Action.DENY, "0.00", "0.00", "Returns for 'wrong size' are not accepted"),
    (Reason.CHANGED_MIND, (), delivered(), Action.DENY, "0.00", "0.00", "Returns for 'changed mind' are not accepted"),
    (
        Reason.NOT_RECEIVED,
        TRACKING,
        in_transit(40),
        Action.REFUND_ITEMS,
        "56.00",
        "20.00",
        "Not delivered 40 days after shipment (accepted after 30 days)",
    ),
    (
        Reason.NOT_RECEIVED,
        TRACKING,
        in_transit(10),
        Action.DENY,
        "0.00",
        "0.00",
        "'Not received' is accepted 30 days after shipment; it has been 10 days since shipment",
    ),
    (
        Reason.NOT_RECEIVED,
        TRACKING,
        delivered(),
        Action.ESCALATE,
        "56.00",
        "20.00",
        "marked delivered but not received",
    ),
    (Reason.LATE, (), delivered(), Action.DENY, "0.00", "0.00", "Returns for 'late' are not accepted"),
    (Reason.OUT_OF_STOCK, (), delivered(), Action.DENY, "0.00", "0.00", "Returns for 'out of stock' are not accepted"),
    (Reason.FRAUD, (), delivered(), Action.DENY, "0.00", "0.00", "Returns for 'fraud' are not accepted"),
    (Reason.OTHER, (), delivered(), Action.ESCALATE, "51.00", "0.00", "always go to a person"),
]


@pytest.mark.parametrize(
    ("reason", "evidence", "supplier_", "action", "total", "recovery", "sentence"),
    [pytest.param(*case, id=f"{case[0].value}-{case[3].value}") for case in EACH_REASON],
)
def test_each_reason_under_the_built_in_policy(
    reason: Reason,
    evidence: tuple[Evidence, ...],
    supplier_: SupplierSnapshot,
    action: Action,
    total: str,
    recovery: str,
    sentence: str,
) -> None:
    decision = evaluate(DEFAULT_POLICY, ret(reason, evidence=evidence), order(), supplier_, NOW)
    assert decision.action is action, decision.reasons
    assert str(decision.refund_total) == total
    assert str(decision.expected_supplier_recovery) == recovery
    assert _has(decision.reasons, sentence), decision.reasons
    assert decision.kind is RequestKind.RETURN
    assert decision.shopify_cancel_reason is None
    json.dumps(decision.to_dict())


RULES: list[Any] = [
    # id, policy, request, order changes, supplier, action, total, recovery, sentence
    (
        "outside the window",
        "",
        ret(evidence=PHOTOS),
        {},
        delivered(20),
        Action.DENY,
        "0.00",
        "0.00",
        "The return window is 15 days from delivery; the parcel was delivered 20 days ago",
    ),
    (
        "a reason's own window beyond the supplier's",
        "[returns.reasons.damaged]\nwindow_days = 30\n",
        ret(evidence=PHOTOS),
        {},
        delivered(20),
        Action.ESCALATE,
        "51.00",
        "0.00",
        "accepts 'damaged' only within 15 days of delivery",
    ),
    (
        "not delivered yet",
        "",
        ret(evidence=PHOTOS),
        {},
        in_transit(5),
        Action.DENY,
        "0.00",
        "0.00",
        "has not been delivered yet: a return for 'damaged' can be asked once it arrives",
    ),
    (
        "delivered without a date",
        "",
        ret(evidence=PHOTOS),
        {},
        supplier(S.DELIVERED, shipped_at=days_ago(9), delivered_at=None),
        Action.ESCALATE,
        "51.00",
        "20.00",
        "marked delivered without a date",
    ),
    (
        "delivery known from the order",
        "",
        ret(evidence=PHOTOS),
        {"delivered_at": days_ago(1)},
        in_transit(5),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "Delivered 1 days ago",
    ),
    (
        "evidence missing: a person",
        "",
        ret(),
        {},
        delivered(),
        Action.ESCALATE,
        "51.00",
        "20.00",
        "Evidence required for 'damaged' is missing: photos. A person asks the customer for it",
    ),
    (
        "evidence missing: denied",
        '[returns]\nmissing_evidence = "deny"\n',
        ret(),
        {},
        delivered(),
        Action.DENY,
        "0.00",
        "0.00",
        "Evidence required for 'damaged' is missing: photos.",
    ),
    (
        "all sales final",
        '[returns]\nall_sales_final = true\nfinal_sale_except = ["damaged"]\n',
        ret(Reason.NOT_AS_DESCRIBED, evidence=PHOTOS),
        {},
        delivered(),
        Action.DENY,
        "0.00",
        "0.00",
        "All sales are final except for: damaged",
    ),
    (
        "all sales final, excepted reason",
        '[returns]\nall_sales_final = true\nfinal_sale_except = ["damaged"]\n',
        ret(evidence=PHOTOS),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "accepted",
    ),
    (
        "final-sale SKU excluded",
        '[escalation]\nunrecovered_supplier_cost = "allow"\n[returns]\nfinal_sale_skus = ["TEE"]\n'
        "[returns.reasons.changed_mind]\naccepted = true\n",
        ret(Reason.CHANGED_MIND),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "10.00",
        "0.00",
        "Final-sale items are excluded: lines 1",
    ),
    (
        "only final-sale SKUs",
        '[returns]\nfinal_sale_skus = ["TEE"]\n[returns.reasons.changed_mind]\naccepted = true\n',
        ret(Reason.CHANGED_MIND, items={"1": 1}),
        {},
        delivered(),
        Action.DENY,
        "0.00",
        "0.00",
        "Every item asked for is a final-sale item",
    ),
    (
        "final-sale SKU taken back when damaged",
        '[returns]\nfinal_sale_skus = ["TEE"]\n',
        ret(evidence=PHOTOS),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "Final-sale items are taken back for 'damaged'",
    ),
    (
        "restocking fee on a returned item",
        '[escalation]\nunrecovered_supplier_cost = "allow"\n[returns.reasons.wrong_size]\naccepted = true\n'
        "restocking_fee_percent = 15\n",
        ret(Reason.WRONG_SIZE),
        {},
        delivered(),
        Action.REFUND_PARTIAL,
        "43.35",
        "0.00",
        "A 15% restocking fee of 7.65 USD is kept",
    ),
    (
        "no restocking fee when the goods stay",
        "[returns]\nrestocking_fee_percent = 15\n",
        ret(evidence=PHOTOS),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "51.00",
        "20.00",
        "The customer keeps the goods",
    ),
    (
        "supplier refuses the reason: a person",
        "[returns.reasons.wrong_size]\naccepted = true\n",
        ret(Reason.WRONG_SIZE),
        {},
        delivered(),
        Action.ESCALATE,
        "51.00",
        "0.00",
        "does not refund 'wrong size' (suppliers.refund_reasons)",
    ),
    (
        "late, partial refund",
        "[returns.reasons.late]\naccepted = true\nrefund_percent = 20\n",
        ret(Reason.LATE),
        {"created_at": days_ago(45)},
        delivered(3),
        Action.REFUND_PARTIAL,
        "10.20",
        "4.00",
        "The rule refunds 20% of the items' value",
    ),
    (
        "late, but not late enough",
        "[returns.reasons.late]\naccepted = true\n",
        ret(Reason.LATE),
        {},
        delivered(1),
        Action.DENY,
        "0.00",
        "0.00",
        "'late' means more than 30 days",
    ),
    (
        "shipping refunded for the whole order",
        "[returns.reasons.damaged]\nrefund_shipping = true\n",
        ret(evidence=PHOTOS),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "56.00",
        "20.00",
        "Shipping is refunded.",
    ),
    (
        "shipping kept on a partial return",
        "[returns.reasons.damaged]\nrefund_shipping = true\n",
        ret(items={"2": 1}, evidence=PHOTOS),
        {},
        delivered(),
        Action.REFUND_ITEMS,
        "10.00",
        "3.92",
        "Shipping is refunded only when every remaining item is refunded",
    ),
    (
        "supplier protection over",
        "",
        ret(Reason.NOT_RECEIVED, evidence=TRACKING),
        {},
        supplier(S.SHIPPED, shipped_at=days_ago(70)),
        Action.ESCALATE,
        "56.00",
        "0.00",
        "Buyer protection with supplier",
    ),
    (
        "capped",
        "",
        ret(evidence=PHOTOS),
        {"already_refunded": D("46.00")},
        delivered(),
        Action.REFUND_PARTIAL,
        "10.00",
        "20.00",
        "Capped at 10.00 USD",
    ),
    (
        "no supplier recorded",
        '[escalation]\nunrecovered_supplier_cost = "allow"\n',
        ret(evidence=PHOTOS),
        {"delivered_at": days_ago(2), "fulfillment": "fulfilled"},
        [],
        Action.REFUND_ITEMS,
        "51.00",
        "0.00",
        "nothing is recovered from a supplier",
    ),
]


@pytest.mark.parametrize(
    ("text", "request_", "changes", "supplier_", "action", "total", "recovery", "sentence"),
    [pytest.param(*case[1:], id=case[0]) for case in RULES],
)
def test_return_rules(
    text: str,
    request_: Any,
    changes: dict[str, Any],
    supplier_: Any,
    action: Action,
    total: str,
    recovery: str,
    sentence: str,
) -> None:
    if "fulfillment" in changes:
        from worker.policy import FulfillmentState

        changes = {**changes, "fulfillment": FulfillmentState(changes["fulfillment"])}
    decision = evaluate(policy(text), request_, order(**changes), supplier_, NOW)
    assert decision.action is action, decision.reasons
    assert str(decision.refund_total) == total
    assert str(decision.expected_supplier_recovery) == recovery
    assert _has(decision.reasons, sentence), decision.reasons


def test_who_pays_return_shipping_and_the_refund_method() -> None:
    text = (
        '[escalation]\nunrecovered_supplier_cost = "allow"\n'
        '[returns.reasons.wrong_size]\naccepted = true\nreturn_shipping_paid_by = "store"\n'
        'refund_method = "store_credit"\n'
    )
    decision = evaluate(policy(text), ret(Reason.WRONG_SIZE), order(), delivered(), NOW)
    assert decision.return_required is True
    assert decision.return_shipping_paid_by is Payer.STORE
    assert decision.refund_method.value == "store_credit"
    assert all(line.restock for line in decision.lines)
    assert _has(decision.reasons, "the store pays the return shipping")
    assert _has(decision.reasons, "Refund to the store credit")


def test_customer_notification_follows_the_policy() -> None:
    quiet = policy("[returns]\nnotify_customer = false\n")
    assert evaluate(quiet, ret(evidence=PHOTOS), order(), delivered(), NOW).notify_customer is False
    assert evaluate(quiet, ret(Reason.CHANGED_MIND), order(), delivered(), NOW).notify_customer is False
    assert evaluate(DEFAULT_POLICY, ret(evidence=PHOTOS), order(), delivered(), NOW).notify_customer is True


def test_supplier_paid_in_another_currency_needs_a_rate_to_count_the_recovery() -> None:
    eur_order = order(currency="EUR")
    no_rate = evaluate(DEFAULT_POLICY, ret(evidence=PHOTOS), eur_order, delivered(), NOW)
    assert str(no_rate.expected_supplier_recovery) == "0.00"
    assert str(no_rate.store_exposure) == "51.00"
    assert no_rate.supplier_recoveries[0].expected == D("20.00")
    assert no_rate.supplier_recoveries[0].expected_in_order_currency is None
    assert _has(no_rate.reasons, "No exchange rate from USD to EUR")
    rated = evaluate(policy("[exchange_rates.USD]\nEUR = 0.9\n"), ret(evidence=PHOTOS), eur_order, delivered(), NOW)
    assert str(rated.expected_supplier_recovery) == "18.00"
    assert str(rated.store_exposure) == "33.00"


def test_amounts_follow_the_order_currency_minor_units() -> None:
    from worker.policy import OrderLine

    jpy = PolicyOrder(
        currency="JPY",
        lines=(OrderLine("1", 3, D("1000"), discount=D("1"), tax=D("0")),),
        shipping=D("500"),
        total_paid=D("3499"),
        already_refunded=D("0"),
        fulfillment=order().fulfillment,
        created_at=days_ago(1),
    )
    decision = evaluate(DEFAULT_POLICY, ret(Reason.CHANGED_MIND, items={"1": 1}), jpy, [], NOW)
    assert decision.action is Action.REFUND_ITEMS  # nothing shipped: handled as a cancellation
    assert str(decision.refund_total) == "999"  # a third of 2999, floored to whole yen
    kwd = evaluate(
        policy("[cancellation]\nfee_percent = 3\n"),
        ret(Reason.CHANGED_MIND),
        PolicyOrder(
            currency="KWD",
            lines=(OrderLine("1", 1, D("12.345")),),
            shipping=D("1.5"),
            total_paid=D("13.845"),
            already_refunded=D("0"),
            fulfillment=order().fulfillment,
            created_at=days_ago(1),
        ),
        [],
        NOW,
    )
    assert (str(kwd.restocking_fee), str(kwd.refund_total)) == ("0.370", "13.475")


def test_taxes_included_in_prices_are_not_added_again() -> None:
    vat = order(taxes_included=True, total_paid=D("53.00"))
    decision = evaluate(DEFAULT_POLICY, ret(evidence=PHOTOS), vat, delivered(), NOW)
    assert [str(line.value) for line in decision.lines] == ["38.00", "10.00"]


def test_tracking_on_record_counts_as_tracking_evidence() -> None:
    tracked = supplier(S.SHIPPED, shipped_at=days_ago(40), has_tracking=True)
    decision = evaluate(DEFAULT_POLICY, ret(Reason.NOT_RECEIVED), order(), tracked, NOW)
    assert decision.action is Action.REFUND_ITEMS, decision.reasons
    assert _has(decision.reasons, "Evidence provided as required: tracking.")
    untracked = evaluate(DEFAULT_POLICY, ret(Reason.NOT_RECEIVED), order(), in_transit(40), NOW)
    assert untracked.action is Action.ESCALATE


def test_a_store_fulfilled_order_without_a_delivery_date_goes_to_a_person() -> None:
    from worker.policy import FulfillmentState

    fulfilled = order(fulfillment=FulfillmentState.FULFILLED)
    decision = evaluate(DEFAULT_POLICY, ret(evidence=PHOTOS), fulfilled, [], NOW)
    assert decision.action is Action.ESCALATE
    assert _has(decision.reasons, "No delivery date is recorded (no supplier order)")
