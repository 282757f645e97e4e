"""``dropsync returns`` and ``cancel request --evidence`` in process: exit codes, one-line errors, JSON."""

from __future__ import annotations

import json

from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import LineItem, Shop
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, fulfilled_order
from tests.support.cli import InProcess
from worker.db import session_scope
from worker.returns import execution


def _first_line(order_id: int) -> int:
    with session_scope() as session:
        found = session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        assert found is not None
        return int(found)


def test_bad_input_is_one_line_and_loses_nothing(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid, _, _ = fulfilled_order(sandbox, client, shop)
    for args, needle in (
        (("--reason", "nonsense"), "unknown reason 'nonsense'"),
        (("--reason", "damaged", "--evidence", "selfie"), "unknown kind 'selfie'"),
        (("--reason", "damaged", "--items", "999:1"), "no line '999'"),
    ):
        code, _, err = cli("returns", "request", gid, *args)
        assert code == 2, (args, err)
        assert needle in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    code, out, _ = cli("returns", "list", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_request_denied_then_approved_flow_and_received_refusal(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    code, out, _ = cli("returns", "request", gid, "--reason", "changed_mind", "--json")
    assert code == 1
    assert json.loads(out)["state"] == "denied"
    assert sandbox.control.applied_counts(gid) == {}

    line = _first_line(order_id)
    code, out, _ = cli(
        "returns", "request", gid, "--reason", "damaged", "--items", f"{line}:1", "--keep-item", "--json"
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["state"] == "needs_approval"  # no photos yet
    waiting = f"return {shown['id']} waits for a person's approval"
    code, out, _ = cli("check", "--json")  # in front of a person: what `dropsync check` lists (and notifies)
    items = [i for i in json.loads(out)["items"] if i["kind"] == "return_needs_approval"]
    assert code == 1
    assert len(items) == 1
    assert waiting in items[0]["message"]
    assert f"dropsync returns approve {shown['id']}" in items[0]["message"]
    code, out, err = cli("returns", "received", str(shown["id"]))
    assert code == 1
    assert "not waiting for goods" in err
    code, out, _ = cli("returns", "approve", str(shown["id"]), "--evidence", "photos=IMG_7.jpg", "--json")
    assert code == 0
    approved = json.loads(out)
    assert approved["state"] == "shopify_action"
    assert approved["evidence"] == [{"kind": "photos", "reference": "IMG_7.jpg"}]
    code, out, _ = cli("check", "--json")
    assert [i for i in json.loads(out)["items"] if i["kind"] == "return_needs_approval"] == []
    assert published.take()[-1] == ("returns.advance", [shown["id"]])
    assert execution.run_return(session_scope, shown["id"], client) == "done"
    code, out, _ = cli("returns", "show", gid, "--json")
    assert json.loads(out)["state"] == "done"
    code, out, _ = cli("returns", "list", "--state", "done", "--json")
    assert [r["id"] for r in json.loads(out)] == [shown["id"]]
    code, _, err = cli("returns", "list", "--state", "nope")
    assert code == 2


def test_cancel_request_stores_evidence_and_orders_show_lists_it(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid, _, _ = fulfilled_order(sandbox, client, shop)
    code, out, err = cli(
        "cancel", "request", gid, "--reason", "damaged", "--evidence", "photos=IMG_1.jpg,video", "--json"
    )
    assert code == 0, err
    request = json.loads(out)
    # The goods were delivered: the cancellation becomes a return, decided with the photos (not escalated).
    assert request["state"] == "converted_to_return"
    code, out, _ = cli("orders", "show", gid, "--json")
    shown = json.loads(out)
    assert [(e["kind"], e["reference"]) for e in shown["evidence"]] == [("photos", "IMG_1.jpg"), ("video", None)]
    (ret,) = shown["returns"]
    assert (ret["source"], ret["state"]) == ("cancellation", "shopify_action")
