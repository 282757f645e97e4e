"""A refused return is the refusal the bank reads: when a customer whose return the store declined tells
the bank the product was unacceptable (PRODUCT_UNACCEPTABLE), the chargeback's evidence pack carries that
refusal (``refundRefusalExplanation``), whether the policy declined it or a person did."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback, LineItem, Order, Shop
from sandboxes.shopify import ShopifySandbox
from tests.chargebacks.conftest import open_and_read
from tests.returns.conftest import Published, fulfilled_order
from worker.chargebacks import evidence
from worker.chargebacks.evidence import Pack
from worker.db import session_scope
from worker.returns import execution, service
from worker.returns import states as rs
from worker.returns.view import read_return

pytestmark = pytest.mark.usefixtures("published")


def _pack(chargeback_id: int) -> Pack:
    with session_scope() as session:
        return evidence.build_pack(session, session.get_one(Chargeback, chargeback_id))


def _first_line(order_id: int) -> tuple[int, str]:
    with session_scope() as session:
        row = session.execute(
            select(LineItem.id, LineItem.shopify_gid).where(LineItem.order_id == order_id).order_by(LineItem.id)
        ).first()
        assert row is not None
        return int(row[0]), str(row[1])


def test_a_customer_return_the_policy_declined_is_the_refusal_in_a_product_unacceptable_pack(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The demo's story: a self-serve return ("no longer wanted") declined on Shopify with the policy's
    reason; the customer then disputes the charge as "product unacceptable"."""
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    _, line_gid = _first_line(order_id)
    return_gid = sandbox.control.return_request(gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "UNWANTED"}])
    with session_scope() as session:
        case = service.mirror_return(session, shop.id, read_return(client, return_gid))
        assert case is not None
        assert case.verdict == "decline"
        return_id, decision = case.id, dict(case.policy_decision or {})
    assert execution.run_return(session_scope, return_id, client) == "declined"
    assert sandbox.control.return_snapshot(return_gid)["status"] == "DECLINED"

    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_UNACCEPTABLE")
    pack = _pack(row.id)
    assert pack.missing == ()
    assert pack.refusal is not None
    assert pack.input["refundRefusalExplanation"] == pack.refusal
    assert "return items of the order (reason: changed mind)" in pack.refusal
    assert f"version {decision['policy_version']}" in pack.refusal
    for reason in decision["reasons"]:
        assert str(reason).rstrip(".") in pack.refusal


def test_a_return_a_person_declined_is_the_refusal_with_what_the_person_said(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """An operator's return the policy escalated (damaged, no photos) that a person declined."""
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    line_id, _ = _first_line(order_id)
    with session_scope() as session:
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1}, evidence=[],
            actor="operator:test",
        )  # fmt: skip
        assert case.state == rs.NEEDS_APPROVAL
        service.decline(session, case, "operator:test", "the photos show wear, not transport damage")
        assert case.state == rs.DENIED

    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_UNACCEPTABLE")
    pack = _pack(row.id)
    assert pack.missing == ()
    assert pack.refusal is not None
    assert "declined by the store" in pack.refusal
    assert "the photos show wear, not transport damage" in pack.refusal
    assert pack.input["refundRefusalExplanation"] == pack.refusal
