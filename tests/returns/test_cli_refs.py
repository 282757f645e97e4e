"""``dropsync returns`` references: a bare number that names both a return and an order is refused (acting
on the wrong one could refund another customer); ``return:N`` and ``#N`` say which."""

from __future__ import annotations

import json

from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import LineItem, Order, Shop
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import fulfilled_order
from tests.support.cli import InProcess
from worker.db import session_scope


def test_a_number_that_is_both_a_return_and_an_order_is_refused_and_each_can_be_named(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line = session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
    code, out, err = cli("returns", "request", gid, "--reason", "damaged", "--items", f"{line}:1", "--json")
    assert code == 0, err
    return_id = json.loads(out)["id"]  # waits for approval: no photos
    # Another customer's order is numbered like the return (a shop whose order numbers start low).
    _, other_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        session.get_one(Order, other_id).name = f"#{return_id}"

    code, _, err = cli("returns", "approve", str(return_id), "--evidence", "photos")
    assert code == 2
    assert f"{return_id} is both return {return_id}" in err
    assert f"return:{return_id}" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = cli("returns", "show", gid, "--json")
    assert json.loads(out)["state"] == "needs_approval"  # nothing was done
    code, out, _ = cli("returns", "show", f"return:{return_id}", "--json")
    assert (code, json.loads(out)["id"]) == (0, return_id)
    code, _, err = cli("returns", "show", f"#{return_id}")
    assert code == 2
    assert "has no return" in err  # the order, which has none
    code, _, err = cli("returns", "show", "return:x")
    assert code == 2
    assert "return:7" in err


def test_a_number_that_is_both_a_cancellation_request_and_an_order_is_refused(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    from tests.cancellation.conftest import mirror

    gid = sandbox.control.create_order(status="paid")
    order_id = mirror(client, shop.id, gid)
    code, out, err = cli("cancel", "request", gid, "--reason", "changed_mind", "--json")
    assert code in (0, 1), err
    request_id = json.loads(out)["id"]
    other_gid = sandbox.control.create_order(status="paid")
    other_id = mirror(client, shop.id, other_gid)
    with session_scope() as session:
        session.get_one(Order, other_id).name = f"#{request_id}"

    code, _, err = cli("cancel", "withdraw", str(request_id))
    assert code == 2
    assert f"{request_id} is both request {request_id}" in err
    assert f"request:{request_id}" in err
    code, out, _ = cli("cancel", "status", f"request:{request_id}", "--json")
    assert code == 0
    assert json.loads(out)["id"] == request_id
    with session_scope() as session:
        assert session.get_one(Order, order_id).name != f"#{request_id}"
