"""Liveness of a return's planning: a step whose reads Shopify keeps refusing (here every read of the order,
once the goods are back) reaches a person with an alert; it does not stay in ``shopify_action``, sent round
by the sweeper every minute, unseen. (A line refunded in the admin while the goods travel used to be how
this was provoked; it is now caught at once: ``test_refunded_on_order.py``.)"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, LineItem, Order, ReturnCase, Shop, TimelineEvent
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, fulfilled_order
from worker.db import session_scope
from worker.returns import execution, service, sweeper
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence
from worker.timeline import PLANNING_TRIES

pytestmark = pytest.mark.usefixtures("published")


def test_a_return_whose_planning_reads_keep_failing_is_handed_to_a_person(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, goods_back: object
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        assert line is not None
        line_id, quantity = line.id, line.quantity
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): quantity},
            evidence=parse_evidence("photos"), actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "wait"  # OPEN on Shopify, goods travelling

    with session_scope() as session:
        service.goods_received(session, service.get_return(session, return_id), "operator:test")
    sandbox.control.fail_next("error", field="order", times=1_000)  # Shopify answers every read of it 5xx
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
    assert [m.split(" (try ")[1][:6] for m in tried] == [f"{n} of 5" for n in range(1, 6)]
    assert sandbox.control.applied_counts(gid).get("returnProcess", 0) == 0  # nothing half-done on Shopify

    # The person takes it up (`dropsync returns resume`): the hand-over's alert is resolved.
    sandbox.control.clear_faults()
    with session_scope() as session:
        service.resume(session, service.get_return(session, return_id), "operator:test")
        assert session.get_one(Alert, alerts[0].id).resolved_at is not None
