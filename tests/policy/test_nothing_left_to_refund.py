"""An order whose money already went back to the customer outside dropsync (refunded in full in Shopify's
admin, or taken back by the customer's bank through a chargeback not won), then asked to be cancelled.

Before anything shipped, the cancellation goes ahead without a refund: otherwise the store ships goods to a
customer who has the money back, and pays its supplier for them. A return, a cancel once the goods shipped and
an order already cancelled are refused as before.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.policy.factories import NOW, D, cancel, order, policy, ret, supplier
from worker.policy import DEFAULT_POLICY, Action, Decision, Reason, RequestKind, SupplierState, evaluate, replay

S = SupplierState
REFUNDED = {"already_refunded": D("56.00")}
CHARGED_BACK = {"charged_back": D("56.00")}
NO_REFUND = "The order is cancelled without a refund: the customer already has the money back."


def _nothing_moves(decision: Decision) -> None:
    assert str(decision.refund_total) == "0.00"
    assert str(decision.shipping_amount) == "0.00"
    assert str(decision.restocking_fee) == "0.00"
    assert all(str(line.amount) == "0.00" for line in decision.lines)


@pytest.mark.parametrize("changes", [REFUNDED, CHARGED_BACK], ids=["refunded in the admin", "charged back"])
def test_a_paid_unshipped_order_with_nothing_left_to_refund_is_cancelled_without_a_refund(
    changes: dict[str, Any],
) -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), order(**changes), supplier(S.AWAITING_SHIPMENT), NOW)
    assert (decision.allowed, decision.action, decision.kind) == (True, Action.CANCEL, RequestKind.CANCEL)
    _nothing_moves(decision)
    assert [(line.line_id, line.quantity, str(line.value)) for line in decision.lines] == [
        ("1", 2, "41.00"),
        ("2", 1, "10.00"),
    ]
    assert decision.shopify_cancel_reason == "CUSTOMER"
    assert any(sentence.endswith(NO_REFUND) for sentence in decision.reasons), decision.reasons
    # The seller is still asked to cancel, and its refund is still expected: the store was paid nothing.
    assert any("cancels paid orders before shipment with its consent" in r for r in decision.reasons)
    assert str(decision.expected_supplier_recovery) == "20.00"
    assert decision.store_exposure == decision.refund_total - decision.expected_supplier_recovery
    assert not any("Refund to the" in r for r in decision.reasons), decision.reasons


def test_the_customer_rules_do_not_stand_in_the_way_when_no_money_moves() -> None:
    """The cancellation rules decide when the store gives money back; here it gives none: refusing would only
    ship the goods to a customer who has already been paid back."""
    closed = policy("[cancellation]\nallowed = false\n")
    decision = evaluate(closed, cancel(), order(**REFUNDED), supplier(), NOW)
    assert decision.action is Action.CANCEL
    _nothing_moves(decision)


def test_a_reason_that_goes_to_a_person_still_does() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(Reason.OTHER), order(**CHARGED_BACK), [], NOW)
    assert decision.action is Action.ESCALATE
    _nothing_moves(decision)
    assert decision.shopify_cancel_reason == "OTHER"


def test_some_items_only_cannot_be_cancelled_without_a_refund() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(items={"2": 1}), order(**REFUNDED), [], NOW)
    assert decision.action is Action.DENY
    assert decision.reasons == (
        "Nothing is left to refund: 56.00 USD paid, 56.00 USD already refunded. Only the whole order can be "
        "cancelled without a refund: ask for every item.",
    )


@pytest.mark.parametrize("changes", [REFUNDED, CHARGED_BACK], ids=["refunded in the admin", "charged back"])
def test_a_return_with_nothing_left_to_refund_is_still_denied(changes: dict[str, Any]) -> None:
    for suppliers in ([supplier(S.DELIVERED)], [supplier(S.AWAITING_SHIPMENT)]):
        decision = evaluate(DEFAULT_POLICY, ret(), order(**changes), suppliers, NOW)
        assert decision.action is Action.DENY
        assert decision.reasons[0].startswith("Nothing is left to refund: 56.00 USD paid"), decision.reasons
        _nothing_moves(decision)


def test_a_cancel_after_shipment_follows_the_shipped_rules() -> None:
    shipped = evaluate(DEFAULT_POLICY, cancel(), order(**REFUNDED), supplier(S.SHIPPED), NOW)
    assert shipped.action is Action.DENY
    assert "The goods have shipped: a cancellation is no longer possible" in shipped.reasons[-1]
    # "not received" after shipment is handled as a return, and there is nothing left to refund.
    lost = evaluate(DEFAULT_POLICY, cancel(Reason.NOT_RECEIVED), order(**CHARGED_BACK), supplier(S.SHIPPED), NOW)
    assert (lost.action, lost.kind) == (Action.DENY, RequestKind.RETURN)
    assert lost.reasons[-1].startswith("Nothing is left to refund: 56.00 USD paid, 0.00 USD already refunded, 56.00")


def test_an_order_already_cancelled_is_still_denied() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), order(cancelled=True, **REFUNDED), [], NOW)
    assert decision.action is Action.DENY
    assert decision.reasons == ("The order is already cancelled.",)


def test_a_cancellation_without_a_refund_is_stored_and_replays_to_the_same_decision() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), order(**CHARGED_BACK), supplier(), NOW)
    stored = json.loads(json.dumps(decision.to_dict()))
    assert Decision.from_dict(stored) == decision
    assert replay(stored, DEFAULT_POLICY) == decision


# --- refunded item by item in Shopify's admin ------------------------------------------------------------------
# The admin's usual refund: every item selected (optionally restocked), shipping too. Every line's refundable
# quantity is then 0, so "every remaining unit" is none: the whole order means every unit it had.


def _refunded_by_line(**changes: Any) -> Any:
    base = order(**REFUNDED)
    lines = tuple(replace(line, refunded_quantity=line.quantity) for line in base.lines)
    return replace(base, lines=lines, **changes)


def test_an_order_refunded_item_by_item_is_cancelled_whole_without_a_refund() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(), supplier(S.AWAITING_SHIPMENT), NOW)
    assert (decision.allowed, decision.action, decision.kind) == (True, Action.CANCEL, RequestKind.CANCEL)
    _nothing_moves(decision)
    assert [(line.line_id, line.quantity) for line in decision.lines] == [("1", 2), ("2", 1)]
    assert decision.shopify_cancel_reason == "CUSTOMER"
    assert any(sentence.endswith(NO_REFUND) for sentence in decision.reasons), decision.reasons
    # Every unit the supplier order supplies is counted: the seller is asked to cancel all of it, its refund
    # expected in full.
    assert any("cancels paid orders before shipment with its consent" in r for r in decision.reasons)
    assert str(decision.expected_supplier_recovery) == "20.00"
    assert not any("already been refunded or removed" in r for r in decision.reasons), decision.reasons


def test_an_order_refunded_item_by_item_with_a_supplier_order_per_line_asks_both_sellers() -> None:
    suppliers = [supplier(items={"1": 2}), supplier(S.AWAITING_SHIPMENT, supplier="Mug Co", items={"2": 1})]
    decision = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(), suppliers, NOW)
    assert decision.action is Action.CANCEL
    assert [(r.supplier, str(r.expected)) for r in decision.supplier_recoveries] == [
        ("Acme Store", "20.00"),
        ("Mug Co", "20.00"),
    ]


def test_an_order_refunded_item_by_item_stays_denied_once_shipped_as_a_return_or_cancelled() -> None:
    shipped = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(), supplier(S.SHIPPED), NOW)
    assert shipped.action is Action.DENY
    assert "The goods have shipped: a cancellation is no longer possible" in shipped.reasons[-1]
    on_shopify = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(fulfillment="fulfilled"), [], NOW)
    assert on_shopify.action is Action.DENY
    returned = evaluate(DEFAULT_POLICY, ret(), _refunded_by_line(), supplier(S.DELIVERED), NOW)
    assert returned.action is Action.DENY
    assert returned.reasons[0].startswith("Nothing is left to refund: 56.00 USD paid"), returned.reasons
    cancelled = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(cancelled=True), supplier(), NOW)
    assert cancelled.reasons == ("The order is already cancelled.",)


def test_an_order_refunded_item_by_item_replays_to_the_same_decision() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), _refunded_by_line(), supplier(), NOW)
    stored = json.loads(json.dumps(decision.to_dict()))
    assert Decision.from_dict(stored) == decision
    assert replay(stored, DEFAULT_POLICY) == decision


# --- every item refunded, shipping still owed -----------------------------------------------------------------
# The admin's item refund leaves shipping out unless the merchant adds it: every item's money is back, the
# shipping's is not, and a paid supplier order is still due to ship.


def _items_refunded_shipping_owed() -> Any:
    return _refunded_by_line(already_refunded=D("51.00"))


def test_every_item_refunded_with_shipping_owed_is_cancelled_whole_refunding_the_shipping() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(), _items_refunded_shipping_owed(), supplier(S.AWAITING_SHIPMENT), NOW)
    assert (decision.allowed, decision.action, decision.kind) == (True, Action.CANCEL, RequestKind.CANCEL)
    assert [(line.line_id, line.quantity, str(line.amount)) for line in decision.lines] == [
        ("1", 2, "0.00"),
        ("2", 1, "0.00"),
    ]
    assert str(decision.shipping_amount) == "5.00"  # cancellation.refund_shipping = true: what is left of it
    assert str(decision.refund_total) == "5.00"
    assert any("cancels paid orders before shipment with its consent" in r for r in decision.reasons)
    assert not any("already been refunded or removed" in r for r in decision.reasons), decision.reasons


def test_every_item_refunded_with_shipping_owed_follows_the_customer_rules() -> None:
    """Money still moves (the shipping), so the store's cancellation rules apply as to any cancellation."""
    closed = policy("[cancellation]\nallowed = false\n")
    decision = evaluate(closed, cancel(), _items_refunded_shipping_owed(), supplier(), NOW)
    assert decision.action is Action.DENY
    assert "does not accept cancellations" in decision.reasons[-1]
    kept = policy("[cancellation]\nrefund_shipping = false\n")
    decision = evaluate(kept, cancel(), _items_refunded_shipping_owed(), supplier(), NOW)
    assert (decision.action, str(decision.refund_total)) == (Action.CANCEL, "0.00")
