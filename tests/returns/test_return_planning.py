"""Liveness of a return's planning: a step whose reads Shopify keeps refusing (here the suggestedRefund the
refund is computed from, after the merchant refunded the line in the admin) reaches a person with an alert;
it does not stay in ``shopify_action``, sent round by the sweeper every minute, unseen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, LineItem, Order, ReturnCase, Shop, TimelineEvent
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, fulfilled_order
from worker.cancellation import actions as cancellation_actions
from worker.cancellation.shopify_view import read_order
from worker.db import session_scope
from worker.returns import execution, service, sweeper
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence
from worker.timeline import PLANNING_TRIES

pytestmark = pytest.mark.usefixtures("published")


def test_a_line_refunded_outside_the_return_while_the_goods_travel_hands_the_return_to_a_person(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, goods_back: object
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        assert line is not None
        line_id, line_gid, quantity = line.id, line.shopify_gid, line.quantity
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): quantity},
            evidence=parse_evidence("photos"), actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "wait"  # OPEN on Shopify, goods travelling

    # Meanwhile the merchant refunds that line in the Shopify admin (the customer was impatient).
    view = read_order(client, gid)
    refund, _ = cancellation_actions.refund_input(
        client, view, lines=[{"line_gid": line_gid, "quantity": quantity, "restock": False}],
        shipping=Decimal(0), total=view.refundable, note="refunded by the merchant in the admin", notify=False,
    )  # fmt: skip
    answer = client.execute("RefundCreate", {"input": refund, "idempotencyKey": "merchant-admin-refund-1"})
    assert not answer["refundCreate"]["userErrors"], answer

    with session_scope() as session:
        service.goods_received(session, service.get_return(session, return_id), "operator:test")
    outcomes = []
    for _ in range(PLANNING_TRIES):  # the advance task, then what the sweeper sends every minute
        outcomes.append(execution.run_return(session_scope, return_id, client))
        with session_scope() as session:
            queued = sweeper.sweep(session, utcnow() + dt.timedelta(minutes=2))
    assert outcomes == ["retry"] * (PLANNING_TRIES - 1) + [rs.NEEDS_OPERATOR]
    assert queued == 0  # handed over: the sweeper sends it round no more
    with session_scope() as session:
        case = session.get_one(ReturnCase, return_id)
        alerts = session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.resolved_at.is_(None))).all()
        tried = session.scalars(select(TimelineEvent.message).where(TimelineEvent.kind == "planning_failed")).all()
    assert case.state == rs.NEEDS_OPERATOR
    assert [a.kind for a in alerts] == ["return_needs_operator"]
    assert "could not be planned after 5 tries" in alerts[0].message
    assert "SuggestedRefund" in alerts[0].message
    assert [m.split(" (try ")[1][:6] for m in tried] == [f"{n} of 5" for n in range(1, 6)]
    assert sandbox.control.applied_counts(gid).get("returnProcess", 0) == 0  # nothing half-done on Shopify

    # The person takes it up (`dropsync returns resume`): the hand-over's alert is resolved.
    with session_scope() as session:
        service.resume(session, service.get_return(session, return_id), "operator:test")
        assert session.get_one(Alert, alerts[0].id).resolved_at is not None
