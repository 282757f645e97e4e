"""The ledger adapters: a mirrored order and its supplier orders become the policy's plain inputs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from tests.policy.ledger import NOW, D, add_fulfillment_order, add_supplier_order, make_order
from worker.errors import UsageError
from worker.policy import DEFAULT_POLICY, Action, FulfillmentState, Reason, RequestKind, SupplierState, parse_policy
from worker.policy.adapters import check_order, fulfillment_state, parse_items, policy_order, supplier_snapshots


def test_policy_order_carries_money_lines_and_state(session: Session) -> None:
    order = make_order(session, total_refunded=D("10.00"), raw={"taxesIncluded": False})
    order.line_items[1].current_quantity = 0
    order.line_items[1].refundable_quantity = 0
    facts = policy_order(order)
    assert (facts.currency, facts.total_paid, facts.already_refunded, facts.shipping) == (
        "USD",
        D("56.00"),
        D("10.00"),
        D("5.00"),
    )
    tee, mug = facts.lines
    assert (tee.line_id, tee.quantity, tee.unit_price, tee.discount, tee.tax, tee.refunded_quantity) == (
        str(order.line_items[0].id),
        2,
        D("20.00"),
        D("2.00"),
        D("3.00"),
        0,
    )
    assert mug.remaining_quantity == 0
    assert facts.fulfillment is FulfillmentState.UNFULFILLED
    assert facts.cancelled is False
    assert facts.name == order.name


def test_total_paid_falls_back_to_price_minus_outstanding(session: Session) -> None:
    order = make_order(session, total_received=D(0), total_outstanding=D("6.00"))
    assert policy_order(order).total_paid == D("50.00")


@pytest.mark.parametrize(
    ("display", "requests", "expected"),
    [
        (None, [], FulfillmentState.UNFULFILLED),
        ("UNFULFILLED", ["UNSUBMITTED"], FulfillmentState.UNFULFILLED),
        ("IN_PROGRESS", ["SUBMITTED"], FulfillmentState.REQUESTED),
        ("IN_PROGRESS", ["ACCEPTED"], FulfillmentState.ACCEPTED),
        ("IN_PROGRESS", ["CANCELLATION_REQUESTED"], FulfillmentState.ACCEPTED),
        ("PARTIALLY_FULFILLED", ["ACCEPTED"], FulfillmentState.PARTIALLY_FULFILLED),
        ("FULFILLED", [], FulfillmentState.FULFILLED),
    ],
)
def test_fulfillment_state_from_display_status_and_fulfillment_orders(
    session: Session, display: str | None, requests: list[str], expected: FulfillmentState
) -> None:
    order = make_order(session, display_fulfillment_status=display)
    for status in requests:
        add_fulfillment_order(session, order, status)
    add_fulfillment_order(session, order, "ACCEPTED", status="CANCELLED")  # a dead one never counts
    assert fulfillment_state(order) is expected


def test_supplier_snapshots_map_states_items_and_policy_names(session: Session) -> None:
    order = make_order(session)
    tee = order.line_items[0]
    add_supplier_order(session, order, "awaiting_shipment", items={tee.id: 2}, seller_name="ACME store")
    add_supplier_order(
        session, order, "something_new", seller_name=None, supplier="aliexpress", tracking_numbers=["LP1"]
    )
    named = parse_policy('[suppliers."Acme Store"]\nhandling_days = 3\n')
    first, second = supplier_snapshots(session, order, named)
    assert (first.state, dict(first.items), first.amount_paid) == (
        SupplierState.AWAITING_SHIPMENT,
        {str(tee.id): 2},
        D("20.00"),
    )
    assert named.supplier_terms(first.supplier).handling_days == 3
    assert (second.state, second.supplier, second.has_tracking) == (SupplierState.UNKNOWN, "aliexpress", True)


def test_delivery_comes_from_the_supplier_orders(session: Session) -> None:
    order = make_order(session)
    delivered_at = NOW - dt.timedelta(days=4)
    add_supplier_order(session, order, "closed_completed", closed_at=delivered_at, shipped_at=NOW - dt.timedelta(9))
    suppliers = supplier_snapshots(session, order)
    assert suppliers[0].delivered_at == delivered_at
    assert policy_order(order, suppliers).delivered_at == delivered_at


def test_parse_items_accepts_positions_gids_numeric_tails_and_skus(session: Session) -> None:
    order = make_order(session)
    tee, mug = order.line_items
    assert parse_items(order, None) == {}
    assert parse_items(order, "1:1") == {str(tee.id): 1}  # the position `orders show` prints, as everywhere
    assert parse_items(order, "2") == {str(mug.id): 1}
    assert parse_items(order, f"{tee.shopify_gid}:2, {mug.sku}") == {str(tee.id): 2, str(mug.id): 1}
    assert parse_items(order, tee.shopify_gid.rsplit("/", 1)[1]) == {str(tee.id): 2}
    with pytest.raises(UsageError, match="no line 'nope' in order"):
        parse_items(order, "nope:1")
    with pytest.raises(UsageError, match="quantity must be a whole number, got 'x'"):
        parse_items(order, "1:x")
    with pytest.raises(UsageError, match=r"no line '3' in order .* \(lines: 1 \("):
        parse_items(order, "3:1")


def test_check_order_cancels_before_shipment_and_infers_a_return_after(session: Session) -> None:
    order = make_order(session)
    supplier_order = add_supplier_order(session, order, "awaiting_shipment")
    before = check_order(session, order, policy=DEFAULT_POLICY, reason=Reason.CHANGED_MIND, now=NOW)
    assert (before.kind, before.action, str(before.refund_total), str(before.expected_supplier_recovery)) == (
        RequestKind.CANCEL,
        Action.CANCEL,
        "56.00",
        "20.00",
    )
    supplier_order.status = "delivered"
    supplier_order.delivered_at = NOW - dt.timedelta(days=2)
    session.flush()
    after = check_order(
        session,
        order,
        policy=DEFAULT_POLICY,
        reason=Reason.DAMAGED,
        now=NOW,
        evidence=["photos"],  # type: ignore[list-item]
    )
    assert (after.kind, after.action, str(after.refund_total)) == (RequestKind.RETURN, Action.REFUND_ITEMS, "51.00")
    refused = check_order(session, order, policy=DEFAULT_POLICY, reason=Reason.CHANGED_MIND, now=NOW)
    assert refused.action is Action.DENY
