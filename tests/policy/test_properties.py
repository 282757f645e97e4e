"""Hypothesis: whatever the order, request, supplier state and policy, a decision never refunds more
than was paid minus already refunded, is in the order's currency at its minor unit, and is the same
every time for the same inputs and policy version."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policy.factories import NOW
from worker.money import minor_units
from worker.policy import (
    Action,
    Decision,
    Evidence,
    FulfillmentState,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
    evaluate,
    parse_policy,
    policy_from_canonical_json,
    replay,
)
from worker.policy.amounts import line_total

POLICIES = [
    "",
    # Generous: everything accepted, fees and percentages, shipping refunded, store pays the gaps.
    """
[cancellation]
fee_percent = 7.5
window_hours = 72
after_window = "escalate"
[returns]
window_days = 60
refund_shipping = true
restocking_fee_percent = 12.5
missing_evidence = "deny"
final_sale_skus = ["SKU-1"]
[returns.reasons.changed_mind]
accepted = true
[returns.reasons.wrong_size]
accepted = true
refund_percent = 80
[returns.reasons.late]
accepted = true
refund_percent = 33.3
after_days = 5
[escalation]
unrecovered_supplier_cost = "allow"
[suppliers.default]
recovery_percent = 90
refunds_shipping = false
[exchange_rates.USD]
EUR = 0.91
JPY = 151.7
KWD = 0.307
""",
    """
[returns]
all_sales_final = true
final_sale_except = ["damaged"]
refund_method = "store_credit"
[cancellation]
until = "before_supplier_payment"
""",
]
PARSED = [parse_policy(text) for text in POLICIES]
CURRENCIES = ["USD", "EUR", "JPY", "KWD", "BHD", "CLF", "ISK"]


def money(max_value: int = 2000, places: int = 4) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False, allow_infinity=False)


@st.composite
def lines(draw: st.DrawFn) -> tuple[OrderLine, ...]:
    count = draw(st.integers(min_value=1, max_value=4))
    result = []
    for index in range(count):
        quantity = draw(st.integers(min_value=1, max_value=5))
        price = draw(money(500))
        result.append(
            OrderLine(
                line_id=str(index + 1),
                quantity=quantity,
                unit_price=price,
                discount=draw(st.decimals(min_value=0, max_value=price * quantity, places=4)),
                tax=draw(money(80)),
                refunded_quantity=draw(st.integers(min_value=0, max_value=quantity)),
                sku=draw(st.sampled_from([None, "SKU-1", "SKU-2"])),
            )
        )
    return tuple(result)


def instant(low_days: int, high_days: int) -> st.SearchStrategy[dt.datetime]:
    return st.integers(min_value=low_days * 24, max_value=high_days * 24).map(lambda h: NOW - dt.timedelta(hours=h))


@st.composite
def orders(draw: st.DrawFn) -> PolicyOrder:
    the_lines = draw(lines())
    paid = draw(money(3000))
    return PolicyOrder(
        currency=draw(st.sampled_from(CURRENCIES)),
        lines=the_lines,
        shipping=draw(money(60)),
        total_paid=paid,
        already_refunded=draw(st.decimals(min_value=0, max_value=paid + 10, places=4)),
        fulfillment=draw(st.sampled_from(list(FulfillmentState))),
        created_at=draw(instant(0, 120)),
        delivered_at=draw(st.none() | instant(0, 90)),
        cancelled=draw(st.booleans().filter(lambda b: not b) | st.just(True)),
        taxes_included=draw(st.booleans()),
        name="#P",
    )


@st.composite
def suppliers(draw: st.DrawFn, order: PolicyOrder) -> tuple[SupplierSnapshot, ...]:
    found = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        covered = draw(st.lists(st.sampled_from([line.line_id for line in order.lines]), unique=True, max_size=3))
        found.append(
            SupplierSnapshot(
                supplier=draw(st.sampled_from(["Acme Store", "Other"])),
                state=draw(st.sampled_from(list(SupplierState))),
                amount_paid=draw(money(1500, 2)),
                currency=draw(st.sampled_from(["USD", order.currency])),
                shipping_paid=draw(money(20, 2)),
                items={line_id: draw(st.integers(min_value=1, max_value=5)) for line_id in covered},
                paid_at=draw(st.none() | instant(0, 100)),
                shipped_at=draw(st.none() | instant(0, 100)),
                delivered_at=draw(st.none() | instant(0, 60)),
                protection_ends_at=draw(st.none() | instant(-30, 30)),
            )
        )
    return tuple(found)


@st.composite
def requests(draw: st.DrawFn, order: PolicyOrder) -> Request:
    open_lines = [line for line in order.lines if line.remaining_quantity > 0]
    items: dict[str, int] = {}
    if open_lines and draw(st.booleans()):
        for line in draw(st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda x: x.line_id)):
            items[line.line_id] = draw(st.integers(min_value=1, max_value=line.remaining_quantity))
    return Request(
        kind=draw(st.sampled_from(list(RequestKind))),
        reason=draw(st.sampled_from(list(Reason))),
        items=items,
        evidence=frozenset(draw(st.sets(st.sampled_from(list(Evidence))))),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, Request, PolicyOrder, tuple[SupplierSnapshot, ...]]:
    order = draw(orders())
    return (
        draw(st.integers(min_value=0, max_value=len(PARSED) - 1)),
        draw(requests(order)),
        order,
        draw(suppliers(order)),
    )


def _in_currency(amount: Decimal, currency: str) -> bool:
    return amount.as_tuple().exponent == -minor_units(currency)


def _left(order: PolicyOrder) -> Decimal:
    return max(order.total_paid - order.already_refunded, Decimal(0))


def _check_money(decision: Decision, order: PolicyOrder) -> None:
    cur = order.currency
    assert decision.currency == cur
    assert Decimal(0) <= decision.refund_total <= _left(order)
    assert decision.refund_total == sum((line.amount for line in decision.lines), decision.shipping_amount)
    amounts = [decision.refund_total, decision.shipping_amount, decision.restocking_fee]
    amounts += [decision.expected_supplier_recovery, decision.store_exposure]
    amounts += [a for line in decision.lines for a in (line.amount, line.value)]
    assert all(_in_currency(a, cur) for a in amounts), decision
    assert all(Decimal(0) <= line.amount <= line.value for line in decision.lines)
    assert decision.shipping_amount <= max(order.shipping, Decimal(0))
    assert decision.store_exposure == decision.refund_total - decision.expected_supplier_recovery
    if decision.action is Action.DENY:
        assert decision.refund_total == 0
        assert not decision.allowed
    assert decision.allowed == (decision.action in (Action.CANCEL, Action.REFUND_ITEMS, Action.REFUND_PARTIAL))
    assert decision.reasons


@settings(max_examples=400, deadline=None)
@given(cases())
def test_a_refund_never_exceeds_paid_minus_refunded_and_is_in_the_order_currency(case: Any) -> None:
    index, request, order, the_suppliers = case
    decision = evaluate(PARSED[index], request, order, the_suppliers, NOW)
    _check_money(decision, order)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_evaluation_is_deterministic_for_the_same_inputs_and_policy_version(case: Any) -> None:
    index, request, order, the_suppliers = case
    first = evaluate(PARSED[index], request, order, the_suppliers, NOW)
    reparsed = parse_policy(POLICIES[index])  # a fresh load of the same file: same version, same decision
    rebuilt = Request(request.kind, request.reason, dict(reversed(list(request.items.items()))), set(request.evidence))
    second = evaluate(reparsed, rebuilt, order, the_suppliers, NOW)
    assert reparsed.version == PARSED[index].version == first.policy_version
    assert first == second
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(), sort_keys=True)
    assert json.loads(json.dumps(first.to_dict())) == first.to_dict()


@settings(max_examples=150, deadline=None)
@given(orders(), st.integers(min_value=0, max_value=len(PARSED) - 1), st.data())
def test_successive_partial_refunds_never_add_up_to_more_than_was_paid(
    order: PolicyOrder, index: int, data: st.DataObject
) -> None:
    """Apply each decision to the order (as Shopify would) and ask again, unit by unit: each line's
    refunds add up to exactly its total, no unit of money created or lost by rounding."""
    fresh = tuple(OrderLine(**{**ln.__dict__, "refunded_quantity": 0}) for ln in order.lines)
    unfulfilled = FulfillmentState.UNFULFILLED
    order = PolicyOrder(
        **{
            **order.__dict__,
            "lines": fresh,
            "cancelled": False,
            "already_refunded": Decimal(0),
            "fulfillment": unfulfilled,
        }
    )
    if data.draw(st.booleans()):  # enough paid that the cap never bites
        order = PolicyOrder(**{**order.__dict__, "total_paid": Decimal(10**6)})
    per_line: dict[str, Decimal] = {}
    refunded = Decimal(0)
    for _ in range(25):
        open_lines = [line for line in order.lines if line.remaining_quantity > 0]
        if not open_lines:
            break
        line = data.draw(st.sampled_from(open_lines))
        request = Request(RequestKind.CANCEL, Reason.OUT_OF_STOCK, {line.line_id: 1})
        decision = evaluate(PARSED[index], request, order, (), NOW)
        _check_money(decision, order)
        refunded += decision.refund_total
        per_line[line.line_id] = per_line.get(line.line_id, Decimal(0)) + sum(ln.amount for ln in decision.lines)
        lines_after = tuple(
            OrderLine(**{**ln.__dict__, "refunded_quantity": ln.refunded_quantity + 1}) if ln is line else ln
            for ln in order.lines
        )
        order = PolicyOrder(**{**order.__dict__, "lines": lines_after, "already_refunded": refunded})
    assert refunded <= order.total_paid
    if order.total_paid == 10**6 and all(ln.remaining_quantity == 0 for ln in order.lines):
        for ln in order.lines:
            assert per_line[ln.line_id] == line_total(ln, order)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_a_stored_decision_replays_to_the_same_decision(case: Any) -> None:
    index, request, order, the_suppliers = case
    decision = evaluate(PARSED[index], request, order, the_suppliers, NOW)
    stored = json.loads(json.dumps(decision.to_dict()))  # as kept on the cancellation request
    archived = policy_from_canonical_json(PARSED[index].canonical_json())
    assert archived.version == decision.policy_version
    assert replay(stored, archived) == decision
