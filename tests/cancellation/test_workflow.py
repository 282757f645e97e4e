"""Every path of the request state machine, against the Shopify and AliExpress sandboxes.

The Shopify sandbox's own record (``applied_counts``) is the judge of "exactly once".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, CancellationRequest, LedgerEntry, Order, Shop, ShopifyIntent, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from worker.cancellation import execution, service
from worker.cancellation import states as s
from worker.cancellation.errors import ImpossibleTransition, RequestAlreadyOpen
from worker.db import session_scope
from worker.supplier import service as supplier

pytestmark = pytest.mark.usefixtures("published")


def _order(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, **options: object) -> tuple[str, int]:
    gid = sandbox.control.create_order(status="paid", line_items=2, **options)
    return gid, mirror(client, shop.id, gid)


def _request(order_id: int, reason: str = "out_of_stock", **kwargs: object) -> int:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        return service.create_request(session, order, reason=reason, actor="operator:test", **kwargs).id  # type: ignore[arg-type]


def _state(request_id: int) -> str:
    with session_scope() as session:
        return session.get_one(CancellationRequest, request_id).state


def _history(request_id: int) -> list[str]:
    with session_scope() as session:
        return [h["to"] for h in session.get_one(CancellationRequest, request_id).state_history]


def _link(order_id: int, supplier_order_id: str) -> int:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        so = supplier.link_supplier_order(session, order, supplier_order_id, None, "operator:test")
        so.status, so.amount_paid, so.paid_at = "awaiting_shipment", Decimal("8.00"), so.placed_at
        return so.id


def _supplier(so_id: int, action: str, *args: object) -> None:
    from models import SupplierOrder

    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        getattr(supplier, action)(session, so, *args, "operator:test")


def test_no_supplier_order_cancels_directly_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, order_id = _order(sandbox, client, shop)
    request_id = _request(order_id)
    assert _state(request_id) == s.SHOPIFY_ACTION
    assert published.take() == [(service.ADVANCE_TASK, [request_id])]

    assert execution.run_request(session_scope, request_id, client) == "done"
    assert execution.run_request(session_scope, request_id, client) == "idle"  # a redelivery: nothing more
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    snap = sandbox.control.snapshot(gid)
    assert snap["cancelled_at"] is not None
    assert snap["financial_status"] == "REFUNDED"
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        assert order.cancelled_at is not None  # mirrored from the re-read after acting
        refunds = session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order_id,
                                                            LedgerEntry.kind == "customer_refund")).all()  # fmt: skip
        assert sum(r.amount for r in refunds) == Decimal(snap["total_received"])
        intent = session.scalars(select(ShopifyIntent).where(ShopifyIntent.order_id == order_id)).one()
        assert intent.state == "succeeded"
        assert intent.attempts == 1
        kinds = [e.kind for e in session.scalars(select(TimelineEvent).where(TimelineEvent.order_id == order_id))]
    assert "cancellation.shopify_action" in kinds
    assert "cancellation.done" in kinds
    assert "intent.succeeded" in kinds
    assert _history(request_id) == [s.SHOPIFY_ACTION, s.DONE]


def test_second_request_for_the_same_order_is_refused(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    _, order_id = _order(sandbox, client, shop)
    _request(order_id)
    with pytest.raises(RequestAlreadyOpen):
        _request(order_id)


def test_supplier_confirmation_drives_the_shopify_cancel(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, order_id = _order(sandbox, client, shop)
    so_id = _link(order_id, "8100000000000001")
    request_id = _request(order_id)
    assert _state(request_id) == s.REQUESTED
    _supplier(so_id, "record_cancellation_requested")
    assert _state(request_id) == s.SUPPLIER_CANCEL_REQUESTED
    published.take()
    _supplier(so_id, "record_cancellation_confirmed")
    assert _state(request_id) == s.SHOPIFY_ACTION
    assert published.take() == [(service.ADVANCE_TASK, [request_id])]
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    assert _history(request_id) == [s.SUPPLIER_CANCEL_REQUESTED, s.SUPPLIER_CONFIRMED, s.SHOPIFY_ACTION, s.DONE]
    with session_scope() as session:
        from models import SupplierOrder

        assert session.get_one(SupplierOrder, so_id).refund_due_at is not None  # the expected supplier refund


def test_refused_then_shipped_becomes_a_return(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> None:
    gid, order_id = _order(sandbox, client, shop)
    so_id = _link(order_id, "8100000000000002")
    request_id = _request(order_id)
    _supplier(so_id, "record_cancellation_requested")
    _supplier(so_id, "record_seller_refused")
    assert _state(request_id) == s.SUPPLIER_REFUSED
    from models import SupplierOrder

    with session_scope() as session:  # the seller's tracking deadline passes without tracking
        so = session.get_one(SupplierOrder, so_id)
        so.handling_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    from worker.cancellation import sweeper

    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC)).dispute_alerts == 1
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC)).dispute_alerts == 0  # once
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        supplier.record_shipped_claim(session, so, ["LP123456789CN"], "operator:test")
    assert _state(request_id) == s.CONVERTED_TO_RETURN
    assert sandbox.control.applied_counts(gid) == {}
    with session_scope() as session:
        request = session.get_one(CancellationRequest, request_id)
        assert request.kind == "return"
        assert request.policy_decision is not None


def test_withdraw_before_the_action_and_not_after(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> None:
    _, order_id = _order(sandbox, client, shop)
    so_id = _link(order_id, "8100000000000003")
    request_id = _request(order_id)
    with session_scope() as session:
        service.withdraw(session, session.get_one(CancellationRequest, request_id), "operator:test")
    assert _state(request_id) == s.WITHDRAWN
    _supplier(so_id, "record_cancellation_requested")  # the withdrawn request does not follow any more
    assert _state(request_id) == s.WITHDRAWN

    _gid2, order2 = _order(sandbox, client, shop)
    request2 = _request(order2)
    with session_scope() as session, pytest.raises(ImpossibleTransition, match="cannot become withdrawn"):
        service.withdraw(session, session.get_one(CancellationRequest, request2), "operator:test")


def test_submitted_fulfillment_request_is_cancelled_first(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    sandbox.control.fulfillment(gid, "submit")
    order_id = mirror(client, shop.id, gid)
    request_id = _request(order_id)
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"fulfillmentOrderCancel": 1, "orderCancel": 1}


def test_accepted_by_the_service_waits_for_its_answer(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    sandbox.control.fulfillment(gid, "submit")
    sandbox.control.fulfillment(gid, "accept")
    order_id = mirror(client, shop.id, gid)
    request_id = _request(order_id)
    assert execution.run_request(session_scope, request_id, client) == "wait"
    assert execution.run_request(session_scope, request_id, client) == "wait"  # asked once
    sandbox.control.fulfillment(gid, "accept_cancellation")
    assert execution.run_request(session_scope, request_id, client) == "done"
    counts = sandbox.control.applied_counts(gid)
    assert counts["fulfillmentOrderSubmitCancellationRequest"] == 1
    assert counts["orderCancel"] == 1


def test_service_rejecting_the_cancellation_hands_over(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    sandbox.control.fulfillment(gid, "submit")
    sandbox.control.fulfillment(gid, "accept")
    order_id = mirror(client, shop.id, gid)
    request_id = _request(order_id)
    assert execution.run_request(session_scope, request_id, client) == "wait"
    sandbox.control.fulfillment(gid, "reject_cancellation")
    assert execution.run_request(session_scope, request_id, client) == "operator"
    assert _state(request_id) == s.NEEDS_OPERATOR
    assert "orderCancel" not in sandbox.control.applied_counts(gid)


def test_fulfilled_order_is_refunded_with_refund_create_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    for step in ("submit", "accept", "fulfill"):
        sandbox.control.fulfillment(gid, step)
    order_id = mirror(client, shop.id, gid)
    request_id = _request(order_id, reason="damaged")
    with session_scope() as session:
        decision = session.get_one(CancellationRequest, request_id).policy_decision or {}
    if decision["action"] == "escalate":  # damaged without evidence: a person approves the amounts
        assert _state(request_id) == s.NEEDS_APPROVAL
        assert _approval_alerts(request_id) == [False]  # in front of a person: an alert, open
        with session_scope() as session:
            service.approve(session, session.get_one(CancellationRequest, request_id), "operator:test")
        assert _approval_alerts(request_id) == [True]  # taken up: resolved
    assert _state(request_id) == s.SHOPIFY_ACTION
    assert Decimal(decision["refund_total"]) > 0
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert execution.run_request(session_scope, request_id, client) == "idle"
    assert sandbox.control.applied_counts(gid) == {"refundCreate": 1}
    snap = sandbox.control.snapshot(gid)
    assert Decimal(snap["total_refunded"]) == Decimal(decision["refund_total"])


def _approval_alerts(request_id: int) -> list[bool]:
    """Whether each approval alert of the request is resolved."""
    with session_scope() as session:
        mine = Alert.dedupe_key.startswith(f"cancellation:needs_approval:{request_id}:")
        alerts = session.scalars(select(Alert).where(Alert.kind == "cancellation_needs_approval", mine))
        return [a.resolved_at is not None for a in alerts]
