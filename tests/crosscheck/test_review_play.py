# ruff: noqa: F811  (the cancellation fixtures are imported by name, then requested as arguments)
"""Defects found by playing an operator against the sandboxes (one side changes without the other).

Each test replays, on the ledger and the in-process sandboxes, what was seen with ``dropsync up``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from integrations.shopify.client import ShopifyClient
from models import Alert, CancellationRequest, Chargeback, Order, Refund, Shop, ShopifyIntent, SupplierOrder
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, client, mirror, published, sandbox, shop  # noqa: F401  (fixtures)
from tests.supplier.factories import T0, make_order
from worker.cancellation import execution, service
from worker.cancellation import states as s
from worker.cancellation.actions import refund_input
from worker.cancellation.shopify_view import read_order
from worker.crosscheck import rules
from worker.crosscheck.service import check_orders
from worker.db import session_scope
from worker.supplier import service as supplier

NOW = T0 + dt.timedelta(hours=6)
SETTINGS = rules.Settings(unlinked_after=dt.timedelta(hours=48))


def _open_alerts(session: Session, order_id: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.resolved_at.is_(None))))


# -- 1. refunded in full in Shopify's admin (not cancelled), then the seller ships ----------------------------


def test_seller_ships_an_order_the_merchant_refunded_in_full_is_still_a_disagreement(session: Session) -> None:
    """Played: the merchant refunds every line and the shipping of #1023 in Shopify's admin (REFUNDED, not
    cancelled) while its AliExpress order awaits shipment. ``dropsync check`` rightly says "#1023 is refunded
    in Shopify … ask the seller to cancel". Then the seller ships: the alert is resolved "both sides agree
    again" and ``dropsync check`` shows nothing, although the customer has all their money back and the
    goods are on their way (paid to the seller, nothing recovered). For a *cancelled* order the same shipment
    raises ``supplier_shipped_shopify_cancelled``; a refunded-in-full one gets nothing."""
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    so = supplier.link_supplier_order(session, order, "8127179095636177", None, "operator", now=T0)
    so.status, so.paid_at, so.amount_paid = st.AWAITING_SHIPMENT, T0, Decimal("12.00")
    session.flush()
    check_orders(session, [order.id], NOW, SETTINGS)
    assert _open_alerts(session, order.id) == []

    # The merchant refunds everything in the admin; the order is not cancelled.
    order.display_financial_status, order.total_refunded = "REFUNDED", order.total_price
    session.add(Refund(order_id=order.id, shopify_gid="gid://shopify/Refund/9001", total_refunded=order.total_price,
                       currency=order.currency, shopify_created_at=NOW))  # fmt: skip
    session.flush()
    check_orders(session, [order.id], NOW, SETTINGS)
    assert [a.kind for a in _open_alerts(session, order.id)] == ["shopify_cancelled_supplier_live"]

    # The seller ships anyway (the poller records it).
    so.status, so.shipped_at = st.SHIPPED, NOW
    so.protection_ends_at = NOW + dt.timedelta(days=60)
    session.flush()
    later = NOW + dt.timedelta(hours=1)
    found = check_orders(session, [order.id], later, SETTINGS)
    assert any(f.disagreement.supplier_order_id == so.id for f in found), (
        "a fully refunded order whose supplier shipped is not reported by the cross-check"
    )
    assert [a for a in _open_alerts(session, order.id) if a.supplier_order_id == so.id], (
        "the alert was resolved as 'both sides agree again' while the customer is refunded and the goods shipped"
    )


def test_refunded_in_full_after_the_goods_shipped_is_not_a_disagreement(session: Session) -> None:
    """The other side of the rule: a full refund made after the seller shipped (the store let the customer
    keep a late or damaged parcel, or a return was refunded) is the store's choice, not goods to recover."""
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "FULFILLED"
    so = supplier.link_supplier_order(session, order, "8127179095636178", None, "operator", now=T0)
    so.status, so.paid_at, so.amount_paid = st.SHIPPED, T0, Decimal("12.00")
    so.shipped_at, so.protection_ends_at = T0 + dt.timedelta(hours=2), T0 + dt.timedelta(days=60)
    order.display_financial_status, order.total_refunded = "REFUNDED", order.total_price
    session.add(Refund(order_id=order.id, shopify_gid="gid://shopify/Refund/9002", total_refunded=order.total_price,
                       currency=order.currency, shopify_created_at=NOW))  # fmt: skip
    session.flush()
    assert check_orders(session, [order.id], NOW + dt.timedelta(hours=1), SETTINGS) == []


# -- 2. the merchant cancels (without refund) in the admin while dropsync's cancel intent is in flight ----------


def _merchant_cancels_without_refund(client: ShopifyClient, gid: str) -> None:
    variables = {"orderId": gid, "reason": "CUSTOMER", "restock": True, "notifyCustomer": False,
                 "staffNote": "cancelled in the Shopify admin"}  # fmt: skip
    payload = client.execute("OrderCancel", variables)["orderCancel"]
    assert not payload["orderCancelUserErrors"], payload
    job = payload.get("job") or {}
    if job.get("id") and not job.get("done"):
        assert client.wait_for_job(job["id"])


def _our_cancel_and_refund_fails(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[str, int, int]:
    """A paid order, a cancellation request the policy refunds in full, and our first orderCancel failing
    (5xx on every try of the attempt): the intent waits to be retried. (gid, order id, request id)"""
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        request = service.create_request(session, session.get_one(Order, order_id), reason="out_of_stock", actor="t")
        if request.state == s.NEEDS_APPROVAL:
            service.approve(session, request, "t")
        request_id = request.id
    sandbox.control.fail_next("error", field="orderCancel", times=6)
    execution.run_request(session_scope, request_id, client)
    sandbox.control.clear_faults()
    return gid, order_id, request_id


def test_merchant_cancel_without_refund_during_our_intent_never_leaves_the_customer_unrefunded(
    sandbox: ShopifySandbox,
    client: ShopifyClient,
    shop: Shop,
    published: Published,
) -> None:
    """Played: ``dropsync cancel request '#1024' --reason changed_mind`` (policy: cancel, refund 22.19 USD);
    the first orderCancel attempt fails (intent ``unknown``, to be retried); meanwhile the merchant cancels the
    order in Shopify's admin without refunding it (restock only). dropsync adopts the merchant's cancellation
    as its own (intent ``succeeded``, request ``done`` "order cancelled on Shopify") although its intent was to
    cancel *and refund*: Shopify shows the order cancelled, PAID, refunded 0.00, and ``dropsync check`` shows
    nothing. The customer is never refunded and no person is told."""
    gid, order_id, request_id = _our_cancel_and_refund_fails(sandbox, client, shop)
    with session_scope() as session:
        decision = session.get_one(CancellationRequest, request_id).policy_decision
        assert decision is not None
        expected = Decimal(str(decision["refund_total"]))
    assert expected > 0
    with session_scope() as session:
        intent = session.scalars(select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request_id)).one()
        assert intent.state not in ("succeeded", "failed"), intent.state
        assert intent.params.get("refund") is True  # ours was to cancel and refund
    assert sandbox.control.applied_counts(gid) == {}

    # The merchant cancels in the admin, without a refund; the mirror sees it (orders/cancelled, a reconcile).
    _merchant_cancels_without_refund(client, gid)
    mirror(client, shop.id, gid)
    for _ in range(3):
        execution.run_request(session_scope, request_id, client)

    node = client.execute("OrderById", {"id": gid})["order"]
    refunded = Decimal(node["totalRefundedSet"]["shopMoney"]["amount"])
    with session_scope() as session:
        state = session.get_one(CancellationRequest, request_id).state
        alerts = [a.kind for a in _open_alerts(session, order_id)]
    # Nothing was refunded with the merchant's cancellation: the decided amount goes on its own, once.
    assert (refunded, state, len(node["refunds"])) == (expected, s.DONE, 1), (
        f"request {state}, Shopify refunded {refunded} of the policy's {expected}, open alerts {alerts}"
    )


def test_a_refund_at_the_outside_cancellation_with_money_still_refundable_goes_to_a_person(
    sandbox: ShopifySandbox,
    client: ShopifyClient,
    shop: Shop,
    published: Published,
) -> None:
    """The same, but the merchant cancels without refunding and then refunds part of it by hand: Shopify
    shows a refund since the cancellation and money still refundable. dropsync cannot tell that from a
    refund of its own still pending, so it sends nothing more and hands the request to a person."""
    gid, order_id, request_id = _our_cancel_and_refund_fails(sandbox, client, shop)
    _merchant_cancels_without_refund(client, gid)
    by_hand, moved = refund_input(client, read_order(client, gid), lines=[], shipping=Decimal(0),
                                  total=Decimal("5.00"), note="goodwill, by hand", notify=False)  # fmt: skip
    assert moved == Decimal("5.00")
    payload = client.execute("RefundCreate", {"input": by_hand, "idempotencyKey": "by-hand-1"})["refundCreate"]
    assert not payload["userErrors"], payload
    mirror(client, shop.id, gid)
    for _ in range(2):
        execution.run_request(session_scope, request_id, client)

    node = client.execute("OrderById", {"id": gid})["order"]
    with session_scope() as session:
        state = session.get_one(CancellationRequest, request_id).state
        alerts = [a.kind for a in _open_alerts(session, order_id)]
    assert (Decimal(node["totalRefundedSet"]["shopMoney"]["amount"]), len(node["refunds"])) == (Decimal("5.00"), 1)
    assert state == s.NEEDS_OPERATOR
    assert "cancellation_needs_operator" in alerts


# -- 3. one of two sellers closes its order on its own -------------------------------------------------------


def test_one_seller_of_two_closing_its_order_is_a_disagreement(session: Session) -> None:
    """Played: #1026 has two lines from two sellers (``dropsync supplier link '#1026' A --items 1:3`` and
    ``… B --items 2:3``), both paid and awaiting shipment. Seller A closes and refunds its order on AliExpress
    (line 1 will never come); Shopify is open and unrefunded. ``dropsync check`` shows nothing: the rule
    takes seller B's live order as "re-ordered elsewhere", although B covers line 2 only. The customer waits
    for goods nobody is sending and is never refunded for them."""
    order = make_order(session, lines=[("Ring light", 3), ("Water bottle", 3)])
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    first, second = order.line_items
    a = supplier.link_supplier_order(session, order, "8119258999223201", [(first, 3)], "operator", now=T0)
    b = supplier.link_supplier_order(session, order, "8171266388599644", [(second, 3)], "operator", now=T0)
    for so, paid in ((a, "6.00"), (b, "9.00")):
        so.status, so.paid_at, so.amount_paid = st.AWAITING_SHIPMENT, T0, Decimal(paid)
    session.flush()
    assert check_orders(session, [order.id], NOW, SETTINGS) == []

    # Seller A closes its order on its own (the poller reads FINISH / seller_accept_issue_no_goods_return).
    a.status, a.closed_at = st.CLOSED_CANCELLED, NOW
    session.flush()
    found = check_orders(session, [order.id], NOW + dt.timedelta(hours=1), SETTINGS)
    assert [f.disagreement.rule for f in found if f.disagreement.supplier_order_id == a.id] == [
        "supplier_cancelled_shopify_open"
    ], [(f.disagreement.rule, f.supplier_order) for f in found]


# -- 4. correcting a link's quantities --------------------------------------------------------------------------


def test_relinking_a_supplier_order_with_corrected_items_replaces_them(session: Session) -> None:
    """Played: ``dropsync supplier link '#1026' 8119258999223201 --items 1:1``, then, seeing the seller's order
    holds 3 units, the same command with ``--items 1:3`` (the docstring and README: linking again replaces
    the items). The CLI dies with a 97-line SQLAlchemy traceback (UNIQUE constraint failed:
    supplier_order_items.supplier_order_id, supplier_order_items.line_item_id), exit 1, and the link keeps
    the wrong quantity: the new rows are inserted before the old ones are deleted."""
    order = make_order(session, lines=[("Ring light", 3), ("Water bottle", 3)])
    first = order.line_items[0]
    so = supplier.link_supplier_order(session, order, "8119258999223201", [(first, 1)], "operator", now=T0)
    so = supplier.link_supplier_order(session, order, "8119258999223201", [(first, 3)], "operator", now=T0)
    session.expire_all()
    linked = session.get_one(SupplierOrder, so.id)
    assert [(item.line_item_id, item.quantity) for item in linked.items] == [(first.id, 3)]


# -- 5. re-ordering elsewhere, as the cross-check advises ------------------------------------------------------


def test_reordering_after_a_seller_cancelled_is_not_reported_as_a_loss(session: Session) -> None:
    """Played: the seller of #1022 closed and refunded its AliExpress order; ``dropsync check`` advises
    "cancel and refund the customer, or re-order elsewhere and link it". The operator re-orders from another
    seller and links it: the first alert resolves, and at once ``amounts_disagree`` says "#… sold for 50.00 USD
    but 60.00 USD was paid to the supplier: the store loses 10.00 on it; check the supplier order's price and
    quantities", counting the cancelled order's money (closed cancelled: it comes back, and its refund has
    its own ``refund_due`` deadline) as spent. The order sells at a profit; nothing is wrong with the new
    order's price."""
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    closed = supplier.link_supplier_order(session, order, "8152832230766503", None, "operator", now=T0)
    closed.status, closed.paid_at, closed.amount_paid = st.CLOSED_CANCELLED, T0, Decimal("30.00")
    closed.closed_at = T0 + dt.timedelta(hours=1)
    session.flush()
    assert [f.disagreement.rule for f in check_orders(session, [order.id], NOW, SETTINGS)] == [
        "supplier_cancelled_shopify_open"
    ]
    again = supplier.link_supplier_order(session, order, "8171266388599645", [], "operator", now=NOW)
    again.status, again.paid_at, again.amount_paid = st.AWAITING_SHIPMENT, NOW, Decimal("30.00")
    session.flush()
    found = check_orders(session, [order.id], NOW + dt.timedelta(hours=1), SETTINGS)
    assert [f.disagreement.message for f in found] == []


# -- 6. an order whose money the customer's bank took back in full (a chargeback lost or accepted) -----------


def test_an_order_charged_back_in_full_is_not_to_be_bought_and_its_live_supplier_order_is_to_be_cancelled(
    session: Session,
) -> None:
    """Played: a FRAUDULENT chargeback on #1005 (paid, unfulfilled, nothing bought yet) was lost: the bank
    gave the customer 123.17 back. ``dropsync check`` still said "#1005 was paid more than 48 h ago and no
    AliExpress order is linked: place the supplier order and link it": buying goods for an order the store was
    never paid for. And once bought, the paid supplier order should be cancelled before it ships."""
    order = make_order(session)
    order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
    session.add(Chargeback(
        shop_id=order.shop_id, order_id=order.id, dispute_gid="gid://shopify/ShopifyPaymentsDispute/1",
        dispute_type="CHARGEBACK", reason="FRAUDULENT", status="LOST", amount=order.total_price,
        currency=order.currency, fee=Decimal("15.00"),
    ))  # fmt: skip
    session.flush()
    later = order.shopify_created_at + dt.timedelta(days=3)
    assert check_orders(session, [order.id], later, SETTINGS) == []

    so = supplier.link_supplier_order(session, order, "8127179095636179", None, "operator", now=later)
    so.status, so.paid_at, so.amount_paid = st.AWAITING_SHIPMENT, later, Decimal("12.00")
    session.flush()
    found = check_orders(session, [order.id], later + dt.timedelta(hours=1), SETTINGS)
    assert [f.disagreement.rule for f in found] == [rules.SHOPIFY_CANCELLED_SUPPLIER_LIVE]
    assert "charged back" in found[0].disagreement.message
