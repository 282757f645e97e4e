"""Table tests: every cancellation rule, with the amounts and the sentence that explains it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policy.factories import NOW, D, cancel, days_ago, order, policy, ret, supplier
from worker.policy import (
    DEFAULT_POLICY,
    Action,
    FulfillmentState,
    InvalidRequestError,
    Reason,
    RequestKind,
    SupplierState,
    evaluate,
)
from worker.policy.inputs import SupplierSnapshot

S = SupplierState


def _has(reasons: tuple[str, ...], fragment: str) -> bool:
    return any(fragment in sentence for sentence in reasons)


CASES: list[Any] = [
    # (id, policy text, request, order changes, suppliers, action, refund total, recovery, a sentence)
    (
        "no supplier order yet",
        "",
        cancel(),
        {},
        [],
        Action.CANCEL,
        "56.00",
        "0.00",
        "No supplier order has been placed yet",
    ),
    (
        "supplier unpaid",
        "",
        cancel(),
        {},
        [supplier(S.AWAITING_PAYMENT, amount_paid=D(0))],
        Action.CANCEL,
        "56.00",
        "0.00",
        "not paid yet: cancel it on AliExpress too",
    ),
    (
        "paid, awaiting shipment",
        "",
        cancel(),
        {},
        [supplier(S.AWAITING_SHIPMENT)],
        Action.CANCEL,
        "56.00",
        "20.00",
        "cancels paid orders before shipment with its consent",
    ),
    (
        "paid, risk check",
        "",
        cancel(),
        {},
        [supplier(S.RISK_CHECK)],
        Action.CANCEL,
        "56.00",
        "20.00",
        "20.00 USD expected back within 15 business days",
    ),
    (
        "cancellation already requested",
        "",
        cancel(),
        {},
        [supplier(S.CANCELLATION_REQUESTED)],
        Action.CANCEL,
        "56.00",
        "20.00",
        "cancels paid orders",
    ),
    (
        "supplier already cancelled",
        "",
        cancel(),
        {},
        [supplier(S.CLOSED_CANCELLED)],
        Action.CANCEL,
        "56.00",
        "20.00",
        "has already cancelled its order",
    ),
    (
        "shipped: too late",
        "",
        cancel(),
        {},
        [supplier(S.SHIPPED)],
        Action.DENY,
        "0.00",
        "0.00",
        "The goods have shipped: a cancellation is no longer possible",
    ),
    (
        "delivered: too late",
        "",
        cancel(),
        {},
        [supplier(S.DELIVERED)],
        Action.DENY,
        "0.00",
        "0.00",
        "once delivered, the customer may ask for a return",
    ),
    (
        "completed: too late",
        "",
        cancel(),
        {},
        [supplier(S.CLOSED_COMPLETED)],
        Action.DENY,
        "0.00",
        "0.00",
        "have shipped",
    ),
    (
        "partly shipped: a person",
        "",
        cancel(),
        {},
        [supplier(S.PARTLY_SHIPPED)],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "shipped part of the order",
    ),
    (
        "in dispute: a person",
        "",
        cancel(),
        {},
        [supplier(S.IN_DISPUTE)],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "A dispute is open",
    ),
    (
        "unknown state: a person",
        "",
        cancel(),
        {},
        [supplier(S.UNKNOWN)],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "not recognised",
    ),
    (
        "part of the order",
        "",
        cancel(items={"1": 1}),
        {},
        [supplier()],
        Action.REFUND_ITEMS,
        "20.50",
        "8.03",
        "Shipping is refunded only when every remaining item is refunded",
    ),
    (
        "cancellations not allowed",
        "[cancellation]\nallowed = false\n",
        cancel(),
        {},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "does not accept cancellations (cancellation.allowed = false)",
    ),
    (
        "store reason: out of stock",
        "[cancellation]\nallowed = false\n",
        cancel(Reason.OUT_OF_STOCK),
        {},
        [supplier()],
        Action.CANCEL,
        "56.00",
        "20.00",
        "the store's own reason",
    ),
    (
        "reason not accepted",
        '[cancellation]\nreasons = ["damaged"]\n',
        cancel(),
        {},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "Cancellations for 'changed mind' are not accepted",
    ),
    (
        "until never",
        '[cancellation]\nuntil = "never"\n',
        cancel(),
        {},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "cancellation.until",
    ),
    (
        "until supplier payment, paid",
        '[cancellation]\nuntil = "before_supplier_payment"\n',
        cancel(),
        {},
        [supplier()],
        Action.DENY,
        "0.00",
        "0.00",
        "only until the store pays the supplier",
    ),
    (
        "until supplier payment, unpaid",
        '[cancellation]\nuntil = "before_supplier_payment"\n',
        cancel(),
        {},
        [supplier(S.AWAITING_PAYMENT, amount_paid=D(0))],
        Action.CANCEL,
        "56.00",
        "0.00",
        "accepted until the supplier ships",
    ),
    (
        "outside the window",
        "[cancellation]\nwindow_hours = 24\n",
        cancel(),
        {},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "within 24 hours of ordering; this order was placed 48 hours ago",
    ),
    (
        "outside the window, escalate",
        '[cancellation]\nwindow_hours = 24\nafter_window = "escalate"\n',
        cancel(),
        {},
        [],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "cancellation.after_window",
    ),
    (
        "inside the window",
        "[cancellation]\nwindow_hours = 24\n",
        cancel(),
        {"created_at": days_ago(0.5)},
        [],
        Action.CANCEL,
        "56.00",
        "0.00",
        "Asked 12 hours after ordering, within the 24-hour window",
    ),
    (
        "cancellation fee",
        "[cancellation]\nfee_percent = 10\n",
        cancel(),
        {},
        [],
        Action.CANCEL,
        "50.90",
        "0.00",
        "A 10% cancellation fee of 5.10 USD is kept",
    ),
    (
        "fee on part of the order",
        "[cancellation]\nfee_percent = 10\n",
        cancel(items={"2": 1}),
        {},
        [],
        Action.REFUND_PARTIAL,
        "9.00",
        "0.00",
        "cancellation fee of 1.00 USD",
    ),
    (
        "no shipping refund",
        "[cancellation]\nrefund_shipping = false\n",
        cancel(),
        {},
        [],
        Action.CANCEL,
        "51.00",
        "0.00",
        "Shipping is not refunded (cancellation.refund_shipping = false)",
    ),
    (
        "fulfillment requested on Shopify",
        "",
        cancel(),
        {"fulfillment": FulfillmentState.REQUESTED},
        [supplier()],
        Action.CANCEL,
        "56.00",
        "20.00",
        "fulfillmentOrderCancel",
    ),
    (
        "fulfillment accepted on Shopify",
        "",
        cancel(),
        {"fulfillment": FulfillmentState.ACCEPTED},
        [supplier()],
        Action.CANCEL,
        "56.00",
        "20.00",
        "must accept a cancellation request",
    ),
    (
        "Shopify fulfilled, supplier not shipped",
        "",
        cancel(),
        {"fulfillment": FulfillmentState.FULFILLED},
        [supplier()],
        Action.DENY,
        "0.00",
        "0.00",
        "have shipped",
    ),
    (
        "Shopify fulfilled, no supplier order",
        "",
        cancel(),
        {"fulfillment": FulfillmentState.FULFILLED},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "have shipped",
    ),
    (
        "supplier won't cancel: a person",
        '[suppliers."Acme Store"]\ncancel_before_shipment = false\n',
        cancel(),
        {},
        [supplier()],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "The supplier will not cover 20.00 USD of this refund",
    ),
    (
        "supplier won't cancel, store pays",
        '[escalation]\nunrecovered_supplier_cost = "allow"\n[suppliers."Acme Store"]\ncancel_before_shipment = false\n',
        cancel(),
        {},
        [supplier()],
        Action.CANCEL,
        "56.00",
        "0.00",
        "its 20.00 USD paid for these items is not recovered"[4:],
    ),
    (
        "order already cancelled",
        "",
        cancel(),
        {"cancelled": True},
        [],
        Action.DENY,
        "0.00",
        "0.00",
        "already cancelled",
    ),
    (
        "everything refunded, nothing shipped: cancelled without a refund",
        "",
        cancel(),
        {"already_refunded": D("56.00")},
        [],
        Action.CANCEL,
        "0.00",
        "0.00",
        "Nothing is left to refund: 56.00 USD paid, 56.00 USD already refunded. The order is cancelled without a "
        "refund: the customer already has the money back.",
    ),
    (
        "capped at what is left",
        "",
        cancel(),
        {"already_refunded": D("50.00")},
        [],
        Action.CANCEL,
        "6.00",
        "0.00",
        "Capped at 6.00 USD, what remains of the 56.00 USD paid after 50.00 USD already refunded",
    ),
    (
        "a chargeback gave it all back, nothing shipped: cancelled without a refund",
        "",
        cancel(),
        {"charged_back": D("56.00")},
        [],
        Action.CANCEL,
        "0.00",
        "0.00",
        "Nothing is left to refund: 56.00 USD paid, 0.00 USD already refunded, 56.00 USD returned by the "
        "customer's bank (a chargeback). The order is cancelled without a refund",
    ),
    (
        "capped by a chargeback",
        "",
        cancel(),
        {"already_refunded": D("6.00"), "charged_back": D("30.00")},
        [],
        Action.CANCEL,
        "20.00",
        "0.00",
        "Capped at 20.00 USD, what remains of the 56.00 USD paid after 6.00 USD already refunded, 30.00 USD "
        "returned by the customer's bank (a chargeback)",
    ),
    (
        "reason other: a person",
        "",
        cancel(Reason.OTHER),
        {},
        [],
        Action.ESCALATE,
        "56.00",
        "0.00",
        "always go to a person (escalation.reasons)",
    ),
    (
        "return before anything shipped",
        "",
        ret(Reason.CHANGED_MIND),
        {},
        [supplier()],
        Action.CANCEL,
        "56.00",
        "20.00",
        "Nothing has shipped yet: the request is handled as a cancellation",
    ),
]


@pytest.mark.parametrize(
    ("text", "request_", "changes", "suppliers", "action", "total", "recovery", "sentence"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_cancellation_rules(
    text: str,
    request_: Any,
    changes: dict[str, Any],
    suppliers: list[SupplierSnapshot],
    action: Action,
    total: str,
    recovery: str,
    sentence: str,
) -> None:
    the_policy = policy(text)
    decision = evaluate(the_policy, request_, order(**changes), suppliers, NOW)
    assert decision.action is action, decision.reasons
    assert str(decision.refund_total) == total
    assert str(decision.expected_supplier_recovery) == recovery
    assert _has(decision.reasons, sentence), decision.reasons
    assert decision.allowed is (action in (Action.CANCEL, Action.REFUND_ITEMS, Action.REFUND_PARTIAL))
    assert decision.store_exposure == decision.refund_total - decision.expected_supplier_recovery
    assert decision.policy_version == the_policy.version
    json.dumps(decision.to_dict())


def test_whole_order_cancellation_amounts_per_line() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), order(), supplier(), NOW)
    assert [
        (line.line_id, line.quantity, str(line.value), str(line.amount), line.restock) for line in decision.lines
    ] == [
        ("1", 2, "41.00", "41.00", True),
        ("2", 1, "10.00", "10.00", True),
    ]
    assert str(decision.shipping_amount) == "5.00"
    assert decision.shopify_cancel_reason == "CUSTOMER"
    assert str(decision.store_exposure) == "36.00"
    assert decision.supplier_recoveries[0].due_within_business_days == 15
    assert decision.kind is RequestKind.CANCEL


@pytest.mark.parametrize(
    ("reason", "shopify_reason"),
    [(Reason.OUT_OF_STOCK, "INVENTORY"), (Reason.FRAUD, "FRAUD"), (Reason.CHANGED_MIND, "CUSTOMER")],
)
def test_shopify_cancel_reason_follows_the_request(reason: Reason, shopify_reason: str) -> None:
    assert evaluate(DEFAULT_POLICY, cancel(reason), order(), [], NOW).shopify_cancel_reason == shopify_reason


def test_store_reasons_refund_to_the_original_method_without_fee() -> None:
    the_policy = policy('[cancellation]\nfee_percent = 50\nrefund_method = "store_credit"\n')
    own = evaluate(the_policy, cancel(Reason.FRAUD), order(), [], NOW)
    assert (own.refund_method.value, str(own.restocking_fee), str(own.refund_total)) == ("original", "0.00", "56.00")
    customer = evaluate(the_policy, cancel(), order(), [], NOW)
    assert (customer.refund_method.value, str(customer.restocking_fee)) == ("store_credit", "25.50")


def test_supplier_orders_in_mixed_states_go_to_a_person_but_a_request_within_one_does_not() -> None:
    shipped = supplier(S.SHIPPED, items={"1": 2})
    waiting = supplier(S.AWAITING_SHIPMENT, supplier="Other", items={"2": 1}, amount_paid=D("4.00"))
    whole = evaluate(DEFAULT_POLICY, cancel(), order(), [shipped, waiting], NOW)
    assert whole.action is Action.ESCALATE
    assert _has(whole.reasons, "supplier orders that shipped and others that did not")
    mug = evaluate(DEFAULT_POLICY, cancel(items={"2": 1}), order(), [shipped, waiting], NOW)
    assert (mug.action, str(mug.refund_total), str(mug.expected_supplier_recovery)) == (
        Action.REFUND_ITEMS,
        "10.00",
        "4.00",
    )
    tee = evaluate(DEFAULT_POLICY, cancel(items={"1": 1}), order(), [shipped, waiting], NOW)
    assert tee.action is Action.DENY


def test_a_cancel_after_shipment_for_not_received_becomes_a_return() -> None:
    shipped = supplier(S.SHIPPED, shipped_at=days_ago(40))
    decision = evaluate(DEFAULT_POLICY, cancel(Reason.NOT_RECEIVED), order(), shipped, NOW)
    assert decision.kind is RequestKind.RETURN
    assert _has(decision.reasons, "'not received' is handled as a return")
    assert decision.action is Action.ESCALATE  # tracking evidence missing → a person asks for it


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"9": 1}, "line 9 is not in order #1001"),
        ({"1": 0}, "line 1: quantity must be at least 1, got 0"),
        ({"1": 3}, "line 1: 3 asked, only 2 left to cancel or refund"),
    ],
)
def test_a_request_the_order_cannot_satisfy_is_refused(items: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        evaluate(DEFAULT_POLICY, cancel(items=items), order(), [], NOW)


def test_units_already_refunded_cannot_be_asked_again() -> None:
    from worker.policy import OrderLine

    lines = (OrderLine("1", 2, D("20.00"), discount=D("2.00"), tax=D("3.00"), refunded_quantity=1), order().lines[1])
    partly = order(lines=lines, already_refunded=D("20.50"))
    with pytest.raises(InvalidRequestError, match="only 1 left"):
        evaluate(DEFAULT_POLICY, cancel(items={"1": 2}), partly, [], NOW)
    rest = evaluate(DEFAULT_POLICY, cancel(), partly, [], NOW)
    # The remaining unit takes the exact remainder of the line: 41.00 − 20.50.
    assert [(line.line_id, line.quantity, str(line.amount)) for line in rest.lines] == [
        ("1", 1, "20.50"),
        ("2", 1, "10.00"),
    ]
    assert str(rest.refund_total) == "35.50"


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(DEFAULT_POLICY, cancel(), order(), [], NOW.replace(tzinfo=None))
