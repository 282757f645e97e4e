"""Returns of a line item that shipped in two parcels (two fulfillments, so two fulfillment line items for
one line item: common with AliExpress partial shipments), against the Shopify sandbox."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, LineItem, Order, ReturnCase, Shop, SupplierOrder
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.model import gid as make_gid
from sandboxes.shopify.model import parse_gid
from sandboxes.shopify.mutations.fulfillment import create_fulfillment
from tests.cancellation.conftest import mirror
from tests.returns.conftest import Published
from worker.db import session_scope
from worker.policy.evaluate import InvalidRequestError
from worker.returns import service
from worker.returns.view import read_return
from worker.supplier import service as supplier

pytestmark = pytest.mark.usefixtures("published")


def _split_shipped_order(sandbox: ShopifySandbox) -> tuple[str, int]:
    """An accepted order whose line with quantity >= 2 ships one unit per fulfillment. (gid, line item id)."""
    for _ in range(12):
        order_gid = sandbox.control.create_order(status="accepted", line_items=3)
        numeric = parse_gid(order_gid, "Order")
        with sandbox.state.lock:
            order = sandbox.state.get_by_id(numeric)
            assert order is not None
            fo = order.fulfillment_orders[0]
            multi = next((line for line in fo.lines if line.remaining_quantity >= 2), None)
            if multi is None:
                continue
            others = [line for line in fo.lines if line is not multi]
            fo_gid = make_gid("FulfillmentOrder", fo.id)
            parcels = [
                [{"id": make_gid("FulfillmentOrderLineItem", multi.id), "quantity": 1}]
                + [
                    {"id": make_gid("FulfillmentOrderLineItem", o.id), "quantity": o.remaining_quantity} for o in others
                ],
                [{"id": make_gid("FulfillmentOrderLineItem", multi.id), "quantity": multi.remaining_quantity - 1}],
            ]
            for parcel in parcels:
                by_order = [{"fulfillmentOrderId": fo_gid, "fulfillmentOrderLineItems": parcel}]
                result = create_fulfillment(sandbox, {
                    "lineItemsByFulfillmentOrder": by_order,
                    "trackingInfo": {"company": "Cainiao", "number": f"LP{numeric}{len(order.fulfillments)}"},
                })  # fmt: skip
                assert not result["userErrors"], result["userErrors"]
            return order_gid, multi.line_item_id
    pytest.skip("no generated order with a line of quantity >= 2")


def _delivered(order_id: int) -> None:
    """The order's AliExpress parcel (linked, or linked now) paid and delivered three days ago."""
    delivered = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).first()
        if so is None:
            so = supplier.link_supplier_order(session, order, f"82{order_id:014d}", None, "operator:test")
        so.status, so.amount_paid, so.currency = "delivered", Decimal("20.00"), "USD"
        so.paid_at = so.shipped_at = delivered - dt.timedelta(days=10)
        so.delivered_at = delivered


def test_customer_return_of_a_line_shipped_in_two_parcels_is_mirrored_and_decided(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, store_policy: object
) -> None:
    order_gid, line_item_numeric = _split_shipped_order(sandbox)
    assert sandbox.control.snapshot(order_gid)["fulfillment_status"].upper() == "FULFILLED"
    order_id = mirror(client, shop.id, order_gid)
    _delivered(order_id)
    with session_scope() as session:
        line_gid = make_gid("LineItem", line_item_numeric)
        assert session.scalar(select(LineItem.id).where(LineItem.shopify_gid == line_gid)) is not None
    # The customer returns both units of that line in the self-serve portal ("size too small").
    return_gid = sandbox.control.return_request(
        order_gid, [{"line_item_id": line_gid, "quantity": 2, "reason": "SIZE_TOO_SMALL"}]
    )
    view = read_return(client, return_gid)
    assert len(view.lines) == 2
    assert {line.line_item_gid for line in view.lines} == {line_gid}

    # What returns.sync does for the returns/request webhook (and the hourly reconciliation, again and again).
    error: Exception | None = None
    try:
        with session_scope() as session:
            service.mirror_return(session, shop.id, view)
    except Exception as exc:  # what the returns.sync task would log, every hour, forever
        error = exc
    with session_scope() as session:
        case = session.scalar(select(ReturnCase).where(ReturnCase.shopify_gid == return_gid))
        alerts = session.scalars(select(Alert.kind).where(Alert.order_id == order_id)).all()
    assert error is None, f"{type(error).__name__}: {error} (alerts: {alerts})"
    assert case is not None
    with session_scope() as session:
        lines = [(line.quantity, line.shopify_gid) for line in service.get_return(session, case.id).lines]
    assert lines == [(2, view.lines[0].gid)]  # one row for the order line, both parcels' units

    # The store's policy accepts it (the customer keeps nothing back to ship: wrong size, no return needed):
    # approved, processed and refunded once on Shopify, both units.
    from worker.returns import execution
    from worker.returns import states as rs

    assert execution.run_return(session_scope, case.id, client) == rs.DONE
    with session_scope() as session:
        service.mirror_return(session, shop.id, read_return(client, return_gid))  # the returns/process webhook
        done = service.get_return(session, case.id)
        assert (done.state, [(li.quantity, li.processed_quantity) for li in done.lines]) == (rs.DONE, [(2, 2)])
    applied = sandbox.control.applied_counts(order_gid)
    assert (applied.get("returnApproveRequest"), applied.get("returnProcess")) == (1, 1)


def test_the_second_unit_of_a_line_shipped_in_two_parcels_can_be_returned_after_the_first(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """Two operator returns, one unit each, of a line whose two units shipped in two parcels. The second
    returnCreate must point at the parcel whose unit was not returned yet."""
    from worker.returns import execution
    from worker.returns import states as rs
    from worker.returns.evidence import parse_evidence

    order_gid, line_item_numeric = _split_shipped_order(sandbox)
    order_id = mirror(client, shop.id, order_gid)
    _delivered(order_id)
    with session_scope() as session:
        line_id = session.scalar(
            select(LineItem.id).where(LineItem.shopify_gid == make_gid("LineItem", line_item_numeric))
        )
    outcomes, states = [], []
    for _ in range(2):
        with session_scope() as session:
            case = service.request_return(
                session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1},
                evidence=parse_evidence("photos"), keep_item=True, actor="operator:test",
            )  # fmt: skip
            return_id = case.id
        outcomes.append(execution.run_return(session_scope, return_id, client))
        with session_scope() as session:
            states.append(session.get_one(ReturnCase, return_id).state)
    created = [(m["applied"], m.get("refused") or m.get("errors")) for m in sandbox.control.mutations(order_gid)
               if m["name"] == "returnCreate"]  # fmt: skip
    assert states == [rs.DONE, rs.DONE], (outcomes, states, created)

    # The ledger knows every unit of that line gone: a third return is refused before anything is decided.
    with pytest.raises(InvalidRequestError, match="1 asked, only 0 left"), session_scope() as session:
        service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1},
            evidence=parse_evidence("photos"), keep_item=True, actor="operator:test",
        )  # fmt: skip


def test_a_return_of_units_shopify_holds_in_another_return_goes_to_a_person_before_anything_is_sent(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The customer asked Shopify to return one unit (not mirrored yet: its webhook is on the way); the
    operator opens a return of both: Shopify can take one, so nothing is sent and a person decides."""
    from worker.returns import execution
    from worker.returns import states as rs
    from worker.returns.evidence import parse_evidence

    order_gid, line_item_numeric = _split_shipped_order(sandbox)
    order_id = mirror(client, shop.id, order_gid)
    line_gid = make_gid("LineItem", line_item_numeric)
    sandbox.control.return_request(order_gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "DEFECTIVE"}])
    _delivered(order_id)
    with session_scope() as session:
        line_id = session.scalar(select(LineItem.id).where(LineItem.shopify_gid == line_gid))
        return_id = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 2},
            evidence=parse_evidence("photos"), keep_item=True, actor="operator:test",
        ).id  # fmt: skip
    assert execution.run_return(session_scope, return_id, client) == rs.NEEDS_OPERATOR
    with session_scope() as session:
        alert = session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.resolved_at.is_(None))).one()
    assert alert.kind == "return_needs_operator"
    assert f"no returnable units left for 1 of 2 unit(s) of line {line_gid}" in alert.message
    assert "returnCreate" not in sandbox.control.applied_counts(order_gid)
