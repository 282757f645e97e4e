"""The operator commands end to end: one clear line per error, exit codes, JSON."""

from __future__ import annotations

import json

from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from tests.support.cli import InProcess
from worker.cancellation import execution
from worker.db import session_scope


def test_request_status_and_refusals(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: object, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    mirror(client, shop.id, gid)  # type: ignore[attr-defined]
    code, out, err = cli("cancel", "request", gid, "--reason", "nonsense")
    assert code == 2
    assert "unknown reason 'nonsense'" in err
    assert "Traceback" not in err

    code, out, _ = cli("cancel", "request", gid, "--reason", "out_of_stock", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["state"] == "shopify_action"
    assert data["action"] == "cancel"
    assert published.take() == [("cancellation.advance", [data["id"]])]

    code, _, err = cli("cancel", "request", gid, "--reason", "out_of_stock")
    assert code == 1
    assert "already has cancellation request" in err

    code, _, err = cli("cancel", "withdraw", str(data["id"]))
    assert code == 1
    assert "cannot become withdrawn" in err
    assert len(err.strip().splitlines()) == 1

    assert execution.run_request(session_scope, data["id"], client) == "done"
    code, out, _ = cli("cancel", "status", gid, "--json")
    status = json.loads(out)
    assert status["state"] == "done"
    assert [i["state"] for i in status["intents"]] == ["succeeded"]

    code, out, _ = cli("report", "exposure", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["orders"][0]["refunded_to_customer"] != "0"
    assert report["total"]

    code, _, err = cli("cancel", "status", "#999999")
    assert code == 2
    assert "unknown order" in err


def test_intents_list_retry_resolve(
    cli: InProcess, sandbox: ShopifySandbox, shop: object, published: Published
) -> None:
    with LossyClient(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url) as lossy:
        gid = sandbox.control.create_order(status="paid", line_items=1)
        mirror(lossy, shop.id, gid)  # type: ignore[attr-defined]
        code, out, _ = cli("cancel", "request", gid, "--reason", "out_of_stock", "--json")
        request_id = json.loads(out)["id"]
        lossy.lose_before = 1
        assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    with session_scope() as session:
        intent_id = session.scalars(select(ShopifyIntent.id)).one()

    code, out, _ = cli("intents", "list-stuck", "--older-than", "0", "--json")
    assert [r["id"] for r in json.loads(out)] == [intent_id]

    code, _, err = cli("intents", "resolve", str(intent_id), "--as", "maybe")
    assert code == 1
    assert "--as must be succeeded or failed" in err

    published.take()
    code, out, _ = cli("intents", "retry", str(intent_id))
    assert code == 0
    assert published.take() == [("cancellation.execute_intent", [intent_id])]

    code, out, _ = cli("intents", "resolve", str(intent_id), "--as", "failed", "--note", "checked Shopify admin")
    assert code == 0
    code, _, err = cli("intents", "retry", "999999")
    assert code == 2
    assert "unknown intent 999999" in err


def test_an_approved_request_says_who_approved_it(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: object, published: Published
) -> None:
    """The stored decision stays the policy's ("escalate"); the status line says a person approved it, so an
    operator reading it later does not take the request for one still waiting."""
    gid = sandbox.control.create_order(status="paid", line_items=1)
    mirror(client, shop.id, gid)  # type: ignore[attr-defined]
    code, out, _ = cli("cancel", "request", gid, "--reason", "other", "--json")  # "other" goes to a person
    assert code == 0
    request_id = json.loads(out)["id"]
    code, out, _ = cli("cancel", "status", str(request_id))
    assert "policy says escalate, refund" in " ".join(out.split())

    code, _, err = cli("cancel", "approve", str(request_id))
    assert code == 0, err
    code, out, _ = cli("cancel", "status", str(request_id))
    assert code == 0
    assert "policy says escalate (approved by operator:" in " ".join(out.split())
