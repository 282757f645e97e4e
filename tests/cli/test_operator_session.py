"""An operator's session, every step a real ``dropsync`` process, against both sandboxes.

Setup and sync (shops, subscribe, reconcile), the mirrored orders, the supplier side (poll, the seller's
answers, money back), a cancellation request and the refusals a person can run into, and the reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.cli.support import Run, dropsync


@pytest.fixture
def shopify_sandbox() -> Iterator[ShopifySandbox]:
    """A small shop on the Plus plan: the sweep reads it in a few pages, unthrottled."""
    config = SandboxConfig(
        seed=3, orders=6, plan="plus", shop_domain="operator.myshopify.com", access_token="shpat_operator",
        client_secret="operator-secret", job_delay_seconds=0.0,
    )  # fmt: skip
    sandbox = ShopifySandbox(config)
    with sandbox.serve():
        yield sandbox
    sandbox.close()


@pytest.fixture
def cli(committed_db: Engine, shopify_sandbox: ShopifySandbox, aliexpress_sandbox: Any) -> Callable[..., Run]:
    shop, ali = shopify_sandbox.config, aliexpress_sandbox
    env = {
        "SHOPIFY_SHOP_DOMAIN": shop.shop_domain, "SHOPIFY_ACCESS_TOKEN": shop.access_token,
        "SHOPIFY_CLIENT_SECRET": shop.client_secret, "SHOPIFY_API_URL": str(shopify_sandbox.base_url),
        "ALIEXPRESS_API_URL": ali.base_url, "ALIEXPRESS_APP_KEY": ali.config.app_key,
        "ALIEXPRESS_APP_SECRET": ali.config.app_secret, "ALIEXPRESS_ACCESS_TOKEN": ali.access_token,
        "ALIEXPRESS_REFRESH_TOKEN": ali.config.refresh_token,
        "ALIEXPRESS_GATEWAY_TIMEZONE": ali.config.gateway_timezone,
    }  # fmt: skip

    def run(*args: str) -> Run:
        return dropsync(*args, env=env)

    return run


def _json(run: Run) -> Any:
    assert run.code == 0, run.err
    return json.loads(run.out)


@pytest.mark.slow
def test_an_operator_session(cli: Callable[..., Run], shopify_sandbox: Any, aliexpress_sandbox: Any) -> None:
    supplier_id = aliexpress_sandbox.paid_order("12.00")
    gid = shopify_sandbox.control.create_order(status="paid", line_items=1, aliexpress_order_id=supplier_id)
    plain = shopify_sandbox.control.create_order(status="paid", line_items=2)

    # Setup and sync.
    assert cli("db", "check").code == 0
    subscribed = _json(cli("shopify", "subscribe", "--url", "http://127.0.0.1:9/hooks", "--json"))
    assert subscribed
    assert all(s["created"] for s in subscribed)
    assert not any(s["created"] for s in _json(cli("shopify", "subscribe", "--url", "http://127.0.0.1:9/hooks",
                                                   "--json")))  # idempotent  # fmt: skip
    reconciled = _json(cli("sync", "reconcile", "--json"))
    assert reconciled["orders"] == shopify_sandbox.state.total_count
    listed = _json(cli("orders", "list", "--limit", "1000", "--json"))
    assert len(listed) == shopify_sandbox.state.total_count
    assert [s["domain"] for s in _json(cli("shops", "list", "--json"))] == [shopify_sandbox.config.shop_domain]

    # The supplier order the mirror linked from the order's note attribute.
    shown = _json(cli("orders", "show", gid, "--json"))
    name = shown["order"]["name"]
    assert [s["supplier_order_id"] for s in shown["supplier_orders"]] == [supplier_id]
    polled = _json(cli("supplier", "poll", supplier_id, "--json"))
    assert polled["supplier_order"]["status"] == "awaiting_shipment"

    # A cancellation: the seller is asked, then confirms; the Shopify action is queued for the worker.
    request = _json(cli("cancel", "request", name, "--reason", "changed_mind", "--json"))
    assert request["state"] == "requested"
    cli("cancel", "request", name, "--reason", "changed_mind").assert_one_line_error(1)  # one open request
    assert _json(cli("supplier", "cancel-requested", supplier_id, "--json"))["status"] == "cancellation_requested"
    assert _json(cli("cancel", "status", name, "--json"))["state"] == "supplier_cancel_requested"
    assert _json(cli("supplier", "confirm", supplier_id, "--json"))["status"] == "closed_cancelled"
    assert _json(cli("cancel", "status", name, "--json"))["state"] == "shopify_action"
    cli("cancel", "withdraw", name).assert_one_line_error(1)  # the Shopify action has started

    # Money back from the supplier, counted once however often it is recorded.
    for _ in range(2):
        cli("supplier", "refund-received", supplier_id, "12.00", "--reference", "R-1", "--json")
    exposure = _json(cli("report", "exposure", name, "--json"))
    assert Decimal(exposure["orders"][0]["recovered_from_supplier"]) == Decimal("12.00")
    money = _json(cli("orders", "show", name, "--json"))["money"]
    assert [m["kind"] for m in money].count("supplier_refund") == 1

    # What the order's timeline says, with who did it.
    actors = {e["actor"] for e in _json(cli("orders", "show", name, "--json"))["timeline"]}
    assert any(a.startswith("operator:") for a in actors)

    # A plain order: the policy's view, and no supplier order to act on.
    plain_name = _json(cli("orders", "show", plain, "--json"))["order"]["name"]
    cli("supplier", "confirm", plain_name).assert_one_line_error(2)
    assert _json(cli("deadlines", "--json")) is not None
    assert isinstance(_json(cli("inbox", "list", "--json")), list)
    assert isinstance(_json(cli("intents", "list-stuck", "--json")), list)
