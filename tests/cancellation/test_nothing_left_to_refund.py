"""Played as an operator: a paid, unshipped order whose money already went back to the customer outside
dropsync — refunded in full in Shopify's admin (money only, or item by item as the admin usually does), or
taken back by the customer's bank through a chargeback lost in full — is asked to be cancelled with
``dropsync cancel request``.

It must be cancelled on Shopify without a refund (``orderCancel`` with no refund method, no ``refundCreate``),
after the seller was asked to cancel when the supplier order is paid: otherwise the store ships the goods to
a customer who has the money back, and pays its supplier for them. The Shopify sandbox is the judge.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Order, Shop, ShopifyIntent, SupplierOrder
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.support.cli import InProcess
from worker.cancellation import execution
from worker.cancellation import states as s
from worker.chargebacks import sync
from worker.db import session_scope
from worker.mirror.reconcile import read_for_mirror
from worker.supplier import service as supplier

HOW = ["refunded in the admin", "refunded item by item in the admin", "charged back"]
NO_REFUND = "The order is cancelled without a refund: the customer already has the money back."


def _refund_everything_in_the_admin(client: ShopifyClient, gid: str) -> None:
    """The merchant refunds the whole payment in Shopify's admin (money only: the order stays open, its items
    still to be fulfilled)."""
    node = read_for_mirror(client, gid)
    assert node is not None
    paid = next(t for t in node["transactions"] if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS")
    amount = paid["amountSet"]["shopMoney"]["amount"]
    money = {"orderId": gid, "parentId": paid["id"], "amount": amount, "kind": "REFUND", "gateway": paid["gateway"]}
    data = client.execute(
        "RefundCreate", {"input": {"orderId": gid, "transactions": [money]}, "idempotencyKey": str(uuid.uuid4())}
    )
    assert data["refundCreate"]["userErrors"] == []


def _refund_every_item_in_the_admin(client: ShopifyClient, gid: str, *, shipping: bool = True) -> None:
    """The merchant selects every item in Shopify's admin and refunds it (restocked), and the shipping too
    unless ``shipping`` is False (the admin leaves it out unless asked; the items' money is then Shopify's
    suggestion): the order stays open, with no unit left to refund."""
    node = read_for_mirror(client, gid)
    assert node is not None
    items = node["lineItems"]["nodes"]
    lines = [{"lineItemId": li["id"], "quantity": li["quantity"], "restockType": "CANCEL"} for li in items]
    paid = next(t for t in node["transactions"] if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS")
    amount = paid["amountSet"]["shopMoney"]["amount"]
    if not shipping:
        wanted = {"id": gid, "refundLineItems": [{"lineItemId": li["id"], "quantity": li["quantity"]} for li in items]}
        suggested = client.execute("SuggestedRefund", wanted)["order"]["suggestedRefund"]
        amount = suggested["suggestedTransactions"][0]["amountSet"]["shopMoney"]["amount"]
    money = {"orderId": gid, "parentId": paid["id"], "amount": amount, "kind": "REFUND", "gateway": paid["gateway"]}
    refund = {"orderId": gid, "refundLineItems": lines, "transactions": [money]}
    if shipping:
        refund["shipping"] = {"fullRefund": True}
    data = client.execute("RefundCreate", {"input": refund, "idempotencyKey": str(uuid.uuid4())})
    assert data["refundCreate"]["userErrors"] == []
    node = read_for_mirror(client, gid)
    assert node is not None
    items = node["lineItems"]["nodes"]
    assert [li["refundableQuantity"] for li in items] == [0] * len(items)


def _money_back(how: str, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, gid: str) -> None:
    if how == "refunded in the admin":
        _refund_everything_in_the_admin(client, gid)
    elif how == "refunded item by item in the admin":
        _refund_every_item_in_the_admin(client, gid)
    else:
        _charge_back_everything(sandbox, client, shop, gid)


def _charge_back_everything(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, gid: str) -> None:
    """The customer's bank disputes the whole charge and the store loses: the customer has it all back."""
    dispute = sandbox.control.open_dispute(gid, reason="FRAUDULENT")
    sandbox.control.decide_dispute(dispute, "LOST")
    assert sync.refresh(session_scope, shop.id, dispute, client) == "LOST"


def _money(sandbox: ShopifySandbox, gid: str) -> dict[str, Any]:
    snap = sandbox.control.snapshot(gid)
    return {k: snap[k] for k in ("total_received", "total_refunded", "refund_count")}


def _intents(order_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with session_scope() as session:
        rows = session.scalars(select(ShopifyIntent).where(ShopifyIntent.order_id == order_id)).all()
        return [(i.kind, i.state, dict(i.params)) for i in rows]


def _cancelled_without_a_refund(sandbox: ShopifySandbox, gid: str, order_id: int, before: dict[str, Any]) -> None:
    snap = sandbox.control.snapshot(gid)
    assert snap["cancelled_at"] is not None, "the order stays open: its goods will be shipped"
    assert _money(sandbox, gid) == before, "money moved although the customer already had it all back"
    assert Decimal(snap["total_refunded"]) <= Decimal(snap["total_received"])
    (intent,) = _intents(order_id)
    assert intent[:2] == ("order_cancel", "succeeded")
    assert intent[2]["refund"] is False
    assert sandbox.control.mutations(gid)[-1]["name"] == "orderCancel"


def _request(cli: InProcess, gid: str) -> dict[str, Any]:
    code, out, err = cli("cancel", "request", gid, "--reason", "changed_mind")
    assert code == 0, (out, err)
    printed = " ".join(out.split())  # as the operator reads it, whatever the terminal's width
    assert "policy says cancel, refund 0.00 USD" in printed, out
    assert NO_REFUND in printed, out
    code, out, _ = cli("cancel", "status", gid, "--json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


@pytest.mark.parametrize("how", HOW)
def test_an_unshipped_order_whose_money_went_back_is_cancelled_on_shopify_without_a_refund(
    how: str, cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    _money_back(how, sandbox, client, shop, gid)
    order_id = mirror(client, shop.id, gid)
    before = _money(sandbox, gid)

    request = _request(cli, gid)
    assert (request["state"], request["action"], request["refund_total"]) == (s.SHOPIFY_ACTION, "cancel", "0.00")
    assert published.take() == [("cancellation.advance", [request["id"]])]
    assert execution.run_request(session_scope, request["id"], client) == "done"
    assert execution.run_request(session_scope, request["id"], client) == "idle"

    _cancelled_without_a_refund(sandbox, gid, order_id, before)
    code, out, _ = cli("cancel", "status", gid, "--json")
    assert (code, json.loads(out)["state"]) == (0, s.DONE)


@pytest.mark.parametrize("how", HOW)
def test_the_seller_is_asked_first_then_the_order_is_cancelled_without_a_refund(
    how: str, cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:  # bought from the seller, paid, not shipped
        so = supplier.link_supplier_order(session, session.get_one(Order, order_id), "8100000000000077", None, "t")
        so.status, so.amount_paid, so.paid_at = "awaiting_shipment", Decimal("8.00"), so.placed_at
        so_id = so.id
    _money_back(how, sandbox, client, shop, gid)
    mirror(client, shop.id, gid)
    before = _money(sandbox, gid)

    request = _request(cli, gid)
    assert request["state"] == s.REQUESTED  # the seller must be asked: nothing happens on Shopify yet
    assert request["expected_supplier_recovery"] == "8.00"
    assert sandbox.control.snapshot(gid)["cancelled_at"] is None
    for step in ("cancel-requested", "confirm"):
        code, out, err = cli("supplier", step, "8100000000000077")
        assert code == 0, (out, err)
    with session_scope() as session:
        assert session.get_one(SupplierOrder, so_id).refund_due_at is not None  # the seller's refund is awaited
    assert execution.run_request(session_scope, request["id"], client) == "done"

    _cancelled_without_a_refund(sandbox, gid, order_id, before)


def test_every_item_refunded_with_the_shipping_owed_is_cancelled_refunding_the_shipping(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The admin's item refund without the shipping: the order is cancelled whole, and Shopify refunds the
    shipping with the cancellation (the policy refunds shipping on a whole cancellation), once."""
    gid = sandbox.control.create_order(status="paid", line_items=2)
    _refund_every_item_in_the_admin(client, gid, shipping=False)
    mirror(client, shop.id, gid)
    before = _money(sandbox, gid)
    owed = Decimal(before["total_received"]) - Decimal(before["total_refunded"])
    assert owed > 0  # the shipping

    code, out, err = cli("cancel", "request", gid, "--reason", "changed_mind", "--json")
    assert code == 0, (out, err)
    request = json.loads(out)
    assert (request["action"], Decimal(request["refund_total"])) == ("cancel", owed)
    assert execution.run_request(session_scope, request["id"], client) == "done"
    assert execution.run_request(session_scope, request["id"], client) == "idle"

    snap = sandbox.control.snapshot(gid)
    assert snap["cancelled_at"] is not None
    assert Decimal(snap["total_refunded"]) == Decimal(snap["total_received"])  # the shipping too, now
    assert snap["refund_count"] == before["refund_count"] + 1  # once
