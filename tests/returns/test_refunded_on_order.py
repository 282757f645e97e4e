"""A refund made on the order (Shopify admin's Refund button, outside the return) while a return waits for its
goods: one that could have paid for the returned units hands the return to a person, nothing refunded again;
one of another line does not stop the return's refund. (The same line refunded in the admin:
``test_review_play.py::test_a_unit_refunded_in_the_admin_while_the_goods_travel_is_not_refunded_again_by_the_return``.)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import ShopifyRefund
from models import Alert, LineItem, Shop
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import return_case, waiting_for_goods
from worker.cancellation import actions as cancellation_actions
from worker.cancellation.shopify_view import read_order
from worker.db import session_scope
from worker.returns import execution, service
from worker.returns import states as rs
from worker.returns.outside import refunds_for_return

pytestmark = pytest.mark.usefixtures("published")


def _line_gids(order_id: int) -> list[str]:
    with session_scope() as session:
        query = select(LineItem.shopify_gid).where(LineItem.order_id == order_id).order_by(LineItem.id)
        return list(session.scalars(query))


def _admin_refund(client: ShopifyClient, order_gid: str, lines: list[str], *, total: Decimal | None = None) -> Decimal:
    """The merchant's refund from the order's Refund button: one unit of each of ``lines`` (none: money
    only, ``total``), no dropsync marker in its note. Returns the amount moved."""
    view = read_order(client, order_gid)
    refund, moved = cancellation_actions.refund_input(
        client, view, lines=[{"line_gid": gid, "quantity": 1, "restock": False} for gid in lines],
        shipping=Decimal(0), total=total if total is not None else view.refundable,
        note="refunded by the merchant in the admin", notify=False,
    )  # fmt: skip
    answer = client.execute("RefundCreate", {"input": refund, "idempotencyKey": f"merchant-{order_gid}-{lines}"})
    assert not answer["refundCreate"]["userErrors"], answer
    assert moved > 0
    return moved


def _received(return_id: int) -> None:
    with session_scope() as session:
        service.goods_received(session, service.get_return(session, return_id), "operator:test")


def _total_refunded(sandbox: ShopifySandbox, order_gid: str) -> Decimal:
    return Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"]))


@pytest.mark.usefixtures("goods_back")
def test_a_refund_of_another_line_in_the_admin_does_not_stop_the_return_s_refund(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    return_id, order_id, _, order_gid = waiting_for_goods(sandbox, client, shop)
    other_line = _line_gids(order_id)[1]  # the return holds one unit of the first line
    admin = _admin_refund(client, order_gid, [other_line])

    _received(return_id)
    assert execution.run_return(session_scope, return_id, client) == "done"
    case = return_case(return_id)
    assert case.state == rs.DONE
    assert case.refund_total > 0
    assert _total_refunded(sandbox, order_gid) == admin + case.refund_total


@pytest.mark.usefixtures("goods_back")
def test_a_money_only_refund_in_the_admin_hands_the_return_to_a_person(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    return_id, order_id, _, order_gid = waiting_for_goods(sandbox, client, shop)
    admin = _admin_refund(client, order_gid, [], total=Decimal("5.00"))

    _received(return_id)
    assert execution.run_return(session_scope, return_id, client) == "operator"
    assert return_case(return_id).state == rs.NEEDS_OPERATOR
    assert _total_refunded(sandbox, order_gid) == admin  # nothing refunded by the return
    with session_scope() as session:
        alert = session.scalars(
            select(Alert).where(Alert.order_id == order_id, Alert.kind == "return_needs_operator")
        ).one()
        assert "money only" in alert.message
        assert f"dropsync returns done {return_id}" in alert.message
    # Resumed without settling it on Shopify, the return goes back to the person: still never refunded.
    with session_scope() as session:
        service.resume(session, service.get_return(session, return_id), "operator:test")
    assert execution.run_return(session_scope, return_id, client) == "operator"
    assert _total_refunded(sandbox, order_gid) == admin


OPENED = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _refund(gid: str, *, at: dt.datetime, lines: tuple[str, ...] = (), note: str | None = None) -> ShopifyRefund:
    return ShopifyRefund(
        gid=gid, created_at=at, total_refunded=Decimal("13.71"), currency="USD", note=note,
        refund_line_items=tuple({"line_item_gid": g, "quantity": 1, "restock_type": "NO_RESTOCK"} for g in lines),
    )  # fmt: skip


def test_which_order_refunds_could_have_paid_for_the_return() -> None:
    later = OPENED + dt.timedelta(hours=1)
    refunds = [
        _refund("same-line", at=later, lines=("L1",)),
        _refund("money-only", at=later),
        _refund("same-second", at=OPENED, lines=("L1",)),
        _refund("other-line", at=later, lines=("L2",)),
        _refund("before", at=OPENED - dt.timedelta(seconds=1), lines=("L1",)),
        _refund("ours", at=later, lines=("L1",), note="dropsync return 4 [rp-abc]"),
        _refund("other-intent-of-ours", at=later, note="cancellation [rc-xyz]"),
    ]
    found = refunds_for_return(refunds, since=OPENED, markers={"[rp-abc]", "[rc-xyz]"}, line_gids={"L1"})
    assert [r.gid for r in found] == ["same-line", "money-only", "same-second"]
    # Shopify gave no createdAt for the return: every refund not ours for its lines counts.
    unknown = refunds_for_return(refunds, since=None, markers={"[rp-abc]", "[rc-xyz]"}, line_gids={"L1"})
    assert [r.gid for r in unknown] == ["same-line", "money-only", "same-second", "before"]
