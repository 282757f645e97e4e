"""A stored decision reads back as the same typed object: ``Decision.from_dict(d.to_dict()) == d``, for
any decision and after the JSON round trip the database makes; rows stored before decisions carried
their inputs still load; a snapshot that is not a decision is refused, never guessed at."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policy.factories import NOW, cancel, order, supplier
from tests.policy.test_properties import PARSED, cases
from worker.policy import (
    DEFAULT_POLICY,
    Action,
    Decision,
    LineRefund,
    Reason,
    RequestKind,
    SupplierRecovery,
    evaluate,
    replay,
)
from worker.policy.model import Payer, RefundMethod

amounts = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9)
texts = st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).flatmap(
    lambda naive: st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), None]).map(
        lambda tz: naive.replace(tzinfo=tz)
    )
)
line_refunds = st.builds(
    LineRefund, line_id=texts, quantity=st.integers(0, 1000), value=amounts, amount=amounts, restock=st.booleans()
)
recoveries = st.builds(
    SupplierRecovery, supplier=texts, currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]), cost=amounts,
    expected=amounts, expected_in_order_currency=st.none() | amounts,
    due_within_business_days=st.none() | st.integers(0, 365),
)  # fmt: skip
decisions = st.builds(
    Decision,
    allowed=st.booleans(),
    action=st.sampled_from(list(Action)),
    kind=st.sampled_from(list(RequestKind)),
    reason=st.sampled_from(list(Reason)),
    currency=st.sampled_from(["USD", "EUR", "JPY", "KWD", "BHD"]),
    lines=st.lists(line_refunds, max_size=3).map(tuple),
    shipping_amount=amounts,
    restocking_fee=amounts,
    refund_total=amounts,
    refund_method=st.sampled_from(list(RefundMethod)),
    notify_customer=st.booleans(),
    return_required=st.booleans(),
    return_shipping_paid_by=st.none() | st.sampled_from(list(Payer)),
    shopify_cancel_reason=st.none() | st.sampled_from(["CUSTOMER", "INVENTORY", "FRAUD", "OTHER"]),
    expected_supplier_recovery=amounts,
    supplier_recoveries=st.lists(recoveries, max_size=2).map(tuple),
    store_exposure=amounts,
    reasons=st.lists(texts, max_size=3).map(tuple),
    policy_version=texts,
    evaluated_at=instants,
    inputs=st.dictionaries(texts, json_values, max_size=3),
)


def _stored(decision: Decision) -> dict[str, Any]:
    """What a JSON column gives back."""
    loaded: dict[str, Any] = json.loads(json.dumps(decision.to_dict()))
    return loaded


@settings(max_examples=300, deadline=None)
@given(decisions)
def test_any_decision_round_trips_exactly(decision: Decision) -> None:
    assert Decision.from_dict(decision.to_dict()) == decision
    back = Decision.from_dict(_stored(decision))
    assert back == decision
    assert back.to_dict() == decision.to_dict()  # digits and exponents too, not only equal values
    assert back.evaluated_at.utcoffset() == decision.evaluated_at.utcoffset()


@settings(max_examples=100, deadline=None)
@given(cases())
def test_every_evaluated_decision_round_trips(case: Any) -> None:
    index, request, the_order, the_suppliers = case
    decision = evaluate(PARSED[index], request, the_order, the_suppliers, NOW)
    assert Decision.from_dict(_stored(decision)) == decision


#: A decision as rows stored it before decisions carried their inputs (commit 876b588 added them).
STORED_BEFORE_INPUTS: dict[str, Any] = {
    "allowed": True, "action": "refund_partial", "kind": "cancel", "reason": "changed_mind", "currency": "USD",
    "lines": [{"line_id": "1", "quantity": 1, "value": "20.50", "amount": "18.45", "restock": True}],
    "shipping_amount": "0.00", "restocking_fee": "2.05", "refund_total": "18.45", "refund_method": "original",
    "notify_customer": True, "return_required": False, "return_shipping_paid_by": None,
    "shopify_cancel_reason": None, "expected_supplier_recovery": "8.92",
    "supplier_recoveries": [{"supplier": "Acme Store", "currency": "EUR", "cost": "8.03", "expected": "8.03",
                             "expected_in_order_currency": "8.92", "due_within_business_days": 15}],
    "store_exposure": "9.53",
    "reasons": ["Cancellations for 'changed mind' are accepted until the supplier ships.",
                "A 10% cancellation fee of 2.05 USD is kept."],
    "policy_version": "5db50624fe1bd2abf78157f291b1dcc94d0ca3ef2044f8cb6a53d33c57321594",
    "evaluated_at": "2026-11-20T12:00:00+00:00",
}  # fmt: skip


def test_a_decision_stored_before_inputs_existed_still_loads() -> None:
    decision = Decision.from_dict(STORED_BEFORE_INPUTS)
    assert decision.action is Action.REFUND_PARTIAL
    assert decision.kind is RequestKind.CANCEL
    assert decision.refund_total == Decimal("18.45")
    assert str(decision.shipping_amount) == "0.00"
    assert decision.lines == (LineRefund("1", 1, Decimal("20.50"), Decimal("18.45"), True),)
    assert decision.supplier_recoveries[0].expected_in_order_currency == Decimal("8.92")
    assert decision.evaluated_at == dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    assert decision.inputs == {}
    assert decision.to_dict() == {**STORED_BEFORE_INPUTS, "inputs": {}}


def test_a_decision_stored_today_loads_and_replays_to_itself() -> None:
    stored = _stored(evaluate(DEFAULT_POLICY, cancel(items={"1": 1}), order(), supplier(), NOW))
    assert set(stored) == set(STORED_BEFORE_INPUTS) | {"inputs"}  # the shape the fixture above stands for
    decision = Decision.from_dict(stored)
    assert decision.to_dict() == stored
    assert replay(stored, DEFAULT_POLICY) == decision


def test_no_decision_is_none_and_a_broken_one_is_refused() -> None:
    assert Decision.stored(None) is None
    assert Decision.stored({}) is None
    with pytest.raises(KeyError):
        Decision.from_dict({k: v for k, v in STORED_BEFORE_INPUTS.items() if k != "refund_total"})
    with pytest.raises(ValueError):
        Decision.from_dict({**STORED_BEFORE_INPUTS, "action": "allow"})
