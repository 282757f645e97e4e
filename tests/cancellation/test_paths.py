"""More paths: the AliExpress poller drives the request, fees, partial cancellations, denials."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import CancellationRequest, FulfillmentOrder, LineItem, Order, Shop, SupplierOrder, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from worker.cancellation import execution, service
from worker.cancellation import states as s
from worker.db import session_scope
from worker.policy import parse_policy
from worker.supplier import service as supplier
from worker.supplier.polling import poll_supplier_order

pytestmark = pytest.mark.usefixtures("published")


def _state(request_id: int) -> str:
    with session_scope() as session:
        return session.get_one(CancellationRequest, request_id).state


def _poll(aliexpress: object, so_id: int) -> None:
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        poll_supplier_order(session, so, aliexpress.client(), dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]


def _approved_request(order_id: int) -> int:
    """A cancellation request for the order (out of stock), approved if the policy asks for approval."""
    with session_scope() as session:
        request = service.create_request(session, session.get_one(Order, order_id), reason="out_of_stock", actor="t")
        if request.state == s.NEEDS_APPROVAL:
            service.approve(session, request, "t")
        return request.id


def test_poller_sees_in_cancel_then_closed_cancelled(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, aliexpress_sandbox: object
) -> None:
    ae = aliexpress_sandbox
    gid = sandbox.control.create_order(status="paid", line_items=2)
    order_id = mirror(client, shop.id, gid)
    ae_id = ae.paid_order("12.00")  # type: ignore[attr-defined]
    with session_scope() as session:
        so = supplier.link_supplier_order(session, session.get_one(Order, order_id), ae_id, None, "operator:test")
        so_id = so.id
    _poll(ae, so_id)
    with session_scope() as session:
        request_id = service.create_request(
            session, session.get_one(Order, order_id), reason="changed_mind", actor="operator:test"
        ).id
    assert _state(request_id) == s.REQUESTED  # paid, not shipped: the seller must be asked
    ae.request_cancellation(ae_id)  # type: ignore[attr-defined]  # the operator did it on AliExpress
    _poll(ae, so_id)
    assert _state(request_id) == s.SUPPLIER_CANCEL_REQUESTED
    ae.seller_accepts_cancellation(ae_id)  # type: ignore[attr-defined]
    _poll(ae, so_id)
    assert _state(request_id) == s.SHOPIFY_ACTION
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


def test_poller_sees_the_seller_ship_and_the_request_becomes_a_return(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, aliexpress_sandbox: object
) -> None:
    ae = aliexpress_sandbox
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(client, shop.id, gid)
    ae_id = ae.paid_order("7.00")  # type: ignore[attr-defined]
    with session_scope() as session:
        so_id = supplier.link_supplier_order(session, session.get_one(Order, order_id), ae_id, None, "t").id
    _poll(ae, so_id)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        request_id = service.create_request(session, order, reason="changed_mind", actor="operator:test").id
    ae.ship(ae_id, "LP00112233445CN")  # type: ignore[attr-defined]
    _poll(ae, so_id)
    assert _state(request_id) == s.CONVERTED_TO_RETURN
    assert sandbox.control.applied_counts(gid) == {}


def test_cancellation_fee_cancels_without_refund_then_refunds_the_rest(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    policy = parse_policy("[cancellation]\nfee_percent = 10\n")
    gid = sandbox.control.create_order(status="paid", line_items=2)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        request = service.create_request(session, order, reason="changed_mind", actor="t", policy=policy)
        request_id, decision = request.id, request.policy_decision or {}
    assert decision["action"] == "cancel"
    paid = Decimal(sandbox.control.snapshot(gid)["total_received"])
    assert Decimal(decision["refund_total"]) < paid
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1, "refundCreate": 1}
    snap = sandbox.control.snapshot(gid)
    assert snap["cancelled_at"] is not None
    assert Decimal(snap["total_refunded"]) == Decimal(decision["refund_total"])


def test_some_items_of_an_unfulfilled_order_are_refunded_not_cancelled(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        first = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        assert first is not None
        items = {str(first.id): 1}
        order = session.get_one(Order, order_id)
        request = service.create_request(session, order, reason="out_of_stock", items=items, actor="t")
        request_id, decision = request.id, request.policy_decision or {}
    assert decision["action"] in ("refund_items", "refund_partial")
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"refundCreate": 1}
    snap = sandbox.control.snapshot(gid)
    assert snap["cancelled_at"] is None
    assert Decimal(snap["total_refunded"]) == Decimal(decision["refund_total"])
    refunded = {li["id"]: li["refunded_quantity"] for li in snap["line_items"]}
    assert refunded[first.shopify_gid] == 1


def test_a_denial_is_recorded_and_nothing_happens(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> None:
    policy = parse_policy("[cancellation]\nallowed = false\n")
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        request = service.create_request(session, order, reason="changed_mind", actor="t", policy=policy)
        request_id = request.id
    assert _state(request_id) == s.DENIED
    assert execution.run_request(session_scope, request_id, client) == "idle"
    assert sandbox.control.applied_counts(gid) == {}
    with session_scope() as session:
        kinds = [e.kind for e in session.scalars(select(TimelineEvent).where(TimelineEvent.order_id == order_id))]
        assert "cancellation.denied" in kinds
        # a denied request does not block a new one
        again = service.create_request(session, session.get_one(Order, order_id), reason="out_of_stock", actor="t")
        assert again.state == s.SHOPIFY_ACTION


def test_the_mirror_after_a_cancel_holds_every_line_of_a_long_order(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """An order of more lines than a query's first page (``OrderFields`` asks for 10): the read that confirms
    the cancel feeds the mirror every line. From the first page only, the lines past it kept their open
    quantities in the ledger, and its copy of the order lost them, until a reconciliation read it again."""
    gid = sandbox.control.create_order(status="paid", line_items=12)
    order_id = mirror(client, shop.id, gid)
    request_id = _approved_request(order_id)
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    with session_scope() as session:
        lines = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).all()
        assert [line.unfulfilled_quantity for line in lines] == [0] * 12
        assert len(session.get_one(Order, order_id).raw["lineItems"]["nodes"]) == 12


def test_a_request_held_on_an_order_s_twelfth_fulfillment_order_is_seen(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """An order split into more fulfillment orders than a read's first page (``OrderForAction`` asks for 10,
    ``OrderFields`` for 3), the service holding only the last one: the plan asks that service to cancel
    and waits for its answer, and the mirror holds all twelve. From the first pages only, the plan saw no
    request held and sent ``orderCancel``, which Shopify refuses while a service holds one."""
    gid = sandbox.control.create_order(status="paid", line_items=12, fulfillment_orders=12)
    sandbox.control.fulfillment(gid, "submit", fulfillment_order=12)
    sandbox.control.fulfillment(gid, "accept", fulfillment_order=12)
    held = sandbox.control.snapshot(gid)["fulfillment_orders"][11]
    assert held["request_status"] == "ACCEPTED"
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        fos = session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.order_id == order_id)).all()
        assert len(fos) == 12
        assert [fo.request_status for fo in fos].count("ACCEPTED") == 1
    request_id = _approved_request(order_id)
    assert execution.run_request(session_scope, request_id, client) == "wait"
    assert sandbox.control.applied_counts(gid) == {"fulfillmentOrderSubmitCancellationRequest": 1}
    requested = [m for m in sandbox.control.mutations(gid) if m["name"] == "fulfillmentOrderSubmitCancellationRequest"]
    assert requested[0]["detail"]["fulfillment_order"] == held["id"]
    sandbox.control.fulfillment(gid, "accept_cancellation", fulfillment_order=12)
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"fulfillmentOrderSubmitCancellationRequest": 1, "orderCancel": 1}
