"""An approved return whose goods must come back: what happens when they do not, or when someone acts on
Shopify while dropsync waits. Nothing that is not finished waits unseen (``awaiting_goods`` only a person
can end: ``dropsync returns received``), and nothing done on Shopify meanwhile is missed or refunded twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, Shop
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, refunded, return_case, waiting_for_goods
from tests.shopify_sandbox.helpers import data
from worker.db import session_scope
from worker.returns import execution, service, sweeper
from worker.returns import states as rs
from worker.returns.view import read_return

pytestmark = pytest.mark.usefixtures("published", "goods_back")

WAIT = dt.timedelta(days=21)


def _alerts(order_id: int) -> list[Alert]:
    with session_scope() as session:
        found = session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.kind == "return_goods_overdue"))
        alerts = list(found)
        session.expunge_all()
        return alerts


def _sweep(at: dt.datetime) -> int:
    with session_scope() as session:
        return sweeper.goods_overdue(session, at, WAIT)


def _sync(client: ShopifyClient, shop: Shop, return_gid: str) -> None:
    """What the returns/* webhook's task does: read the return on Shopify and follow it."""
    view = read_return(client, return_gid)
    with session_scope() as session:
        service.mirror_return(session, shop.id, view)


def test_goods_not_back_after_the_wait_alert_a_person_once_and_the_alert_ends_when_they_arrive(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    return_id, order_id, gid = waiting_for_goods(sandbox, client, shop)[:3]
    assert _sweep(utcnow() + WAIT - dt.timedelta(hours=1)) == 0  # still within the wait: nobody is bothered
    assert _alerts(order_id) == []
    later = utcnow() + WAIT + dt.timedelta(days=1)
    assert _sweep(later) == 1
    assert _sweep(later + dt.timedelta(minutes=1)) == 0  # once per wait, however often the beat runs
    (alert,) = _alerts(order_id)
    assert alert.resolved_at is None
    assert alert.command == f"dropsync returns received {return_id}"
    assert f"return {return_id}" in alert.message
    assert "cancel the return on Shopify" in alert.message
    # The parcel arrives: the person records it, the alert ends, the refund goes ahead once.
    with session_scope() as session:
        service.goods_received(session, service.get_return(session, return_id), "operator:test")
    (alert,) = _alerts(order_id)
    assert alert.resolved_at is not None
    assert execution.run_return(session_scope, return_id, client) == "done"
    assert sandbox.control.return_mutation_counts(gid)["returnProcess"]["applied"] == 1
    assert refunded(order_id) == return_case(return_id).refund_total > 0
    assert _sweep(later + dt.timedelta(days=30)) == 0  # finished: nothing to wait for


def test_a_return_the_merchant_closes_on_shopify_while_goods_are_awaited_ends_done_with_nothingrefunded(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The goods never came; the merchant closes the return in Shopify's admin (returns/close webhook)."""
    return_id, order_id, gid = waiting_for_goods(sandbox, client, shop)[:3]
    assert _sweep(utcnow() + WAIT + dt.timedelta(days=1)) == 1
    closed = data(sandbox, "mutation($id: ID!) { returnClose(id: $id) { userErrors { code } } }", {"id": gid})
    assert closed["returnClose"]["userErrors"] == []
    _sync(client, shop, gid)
    assert return_case(return_id).state == rs.SHOPIFY_ACTION  # read again, not left waiting for goods
    assert execution.run_return(session_scope, return_id, client) == "done"
    case = return_case(return_id)
    assert (case.state, case.shopify_status) == (rs.DONE, "CLOSED")
    assert "returnProcess" not in sandbox.control.return_mutation_counts(gid)  # nothing refunded by dropsync
    assert refunded(order_id) == 0
    assert all(a.resolved_at is not None for a in _alerts(order_id))


def test_a_return_processed_on_shopify_outside_dropsync_while_goods_are_awaited_goes_to_a_person(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """Someone processed the return in Shopify's admin: dropsync must not refund it a second time."""
    return_id, _, gid = waiting_for_goods(sandbox, client, shop)[:3]
    lines = data(sandbox, "query($id: ID!) { return(id: $id) { returnLineItems(first: 10) { nodes { id "
                 "quantity } } } }", {"id": gid})["return"]["returnLineItems"]["nodes"]  # fmt: skip
    process: dict[str, Any] = {"returnId": gid, "returnLineItems": [{"id": n["id"], "quantity": n["quantity"]}
                                                                     for n in lines]}  # fmt: skip
    done = data(sandbox, "mutation($input: ReturnProcessInput!) { returnProcess(input: $input) { userErrors { code "
                "} } }", {"input": process})  # fmt: skip
    assert done["returnProcess"]["userErrors"] == []
    _sync(client, shop, gid)
    assert execution.run_return(session_scope, return_id, client) == "operator"
    assert return_case(return_id).state == rs.NEEDS_OPERATOR
    assert sandbox.control.return_mutation_counts(gid)["returnProcess"]["applied"] == 1  # the admin's, not ours
