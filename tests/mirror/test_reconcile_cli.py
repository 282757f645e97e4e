"""Reconciliation as an operator runs it: a real sandbox process, ``dropsync sync reconcile`` and
``dropsync orders show`` as processes; the merchant acts in Shopify's admin (its API) and no webhook arrives."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from integrations.shopify.client import ShopifyClient
from tests.cli.support import DROPSYNC, dropsync
from tests.support.live_stack import wait
from tests.support.receivers import free_port
from tests.support.shopify import refund_lines

pytestmark = pytest.mark.slow

SHOP = {"SHOPIFY_SHOP_DOMAIN": "admin.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "shpat_admin",
        "SHOPIFY_CLIENT_SECRET": "admin-secret"}  # fmt: skip


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def shop_url() -> Iterator[str]:
    """``dropsync sandbox shopify`` as its own process; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [DROPSYNC, "sandbox", "shopify", "--port", str(port), "--orders", "2"]
    proc = subprocess.Popen(argv, env={**os.environ, **SHOP}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait("the sandbox answers", lambda: _answers(f"{url}/_sandbox/health"))
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _reconciled(url: str, gid: str) -> dict[str, Any]:
    """``dropsync sync reconcile``, then ``dropsync orders show --json`` of the order, as processes."""
    env = {**SHOP, "SHOPIFY_API_URL": url, "DROPSYNC_LOG_LEVEL": "WARNING"}
    assert dropsync("sync", "reconcile", env=env).code == 0
    name = httpx.get(f"{url}/_sandbox/orders/{gid.rsplit('/', 1)[-1]}").json()["name"]
    shown = dropsync("orders", "show", name, "--json", env=env)
    assert shown.code == 0, shown.err
    data: dict[str, Any] = json.loads(shown.out)
    return data


@pytest.mark.usefixtures("committed_db")
def test_refunds_made_in_shopifys_admin_reach_the_ledger_whole_through_reconciliation(shop_url: str) -> None:
    """The merchant refunds eleven lines of a twelve-line order in Shopify's admin, one by one; no webhook
    arrives. ``dropsync sync reconcile`` then shows every refund's money in the ledger (``orders show``):
    11.00, as on Shopify. Before, the read kept ten transactions: a payment and its authorisation or a sale,
    and eight or nine refunds."""
    gid = httpx.post(f"{shop_url}/_sandbox/orders", json={"status": "paid", "line_items": 12}).json()["id"]
    with ShopifyClient(SHOP["SHOPIFY_SHOP_DOMAIN"], SHOP["SHOPIFY_ACCESS_TOKEN"], api_url=shop_url) as admin:
        refund_lines(admin, gid, 11)
    refunds = [e for e in _reconciled(shop_url, gid)["money"] if e["kind"] == "customer_refund"]
    assert len(refunds) == 11
    assert sum(Decimal(e["amount"]) for e in refunds) == Decimal("11.00")


@pytest.mark.usefixtures("committed_db")
def test_every_fulfillment_order_of_a_split_order_reaches_the_ledger(shop_url: str) -> None:
    """A twelve-line order split over twelve fulfillment orders, the fulfillment service holding the last
    one's request. After ``dropsync sync reconcile``, ``orders show`` lists all twelve, each with its line,
    and the held request; a twelve-line order of one fulfillment order lists its twelve lines. Before, the
    mirror kept the first page's three fulfillment orders and ten lines of each."""
    body = {"status": "paid", "line_items": 12, "fulfillment_orders": 12}
    gid = httpx.post(f"{shop_url}/_sandbox/orders", json=body).json()["id"]
    for action in ("submit", "accept"):
        step = httpx.post(f"{shop_url}/_sandbox/orders/{gid.rsplit('/', 1)[-1]}/fulfillment/{action}",
                          json={"fulfillment_order": 12})  # fmt: skip
        assert step.status_code == 200, step.text
    whole = httpx.post(f"{shop_url}/_sandbox/orders", json={"status": "paid", "line_items": 12}).json()["id"]
    shown = _reconciled(shop_url, gid)["fulfillment_orders"]
    assert len(shown) == 12
    assert sorted(line for fo in shown for line in fo["lines"]) == list(range(1, 13))
    assert [fo["request_status"] for fo in shown] == ["UNSUBMITTED"] * 11 + ["ACCEPTED"]
    # One fulfillment order of twelve lines: all twelve, past the first page's ten.
    assert [fo["lines"] for fo in _reconciled(shop_url, whole)["fulfillment_orders"]] == [list(range(1, 13))]
