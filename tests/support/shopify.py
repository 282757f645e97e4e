"""Test helpers around the Shopify sandbox shared by the mirror and cancellation suites."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Shop
from sandboxes.shopify import ShopifySandbox
from worker.mirror import receiver
from worker.mirror.reconcile import read_for_mirror


def register_sandbox_shop(engine: Engine, sandbox: ShopifySandbox) -> Shop:
    """Commit a ledger shop that talks to ``sandbox`` (its domain, token, webhook secret and URL).

    The receiver's shop cache is cleared: ids restart after each test's truncation.
    """
    receiver.shops.clear()
    with Session(engine, expire_on_commit=False) as session:
        shop = Shop(
            domain=sandbox.config.shop_domain, access_token=sandbox.config.access_token,
            client_secret=sandbox.config.client_secret, api_url=sandbox.base_url,
        )  # fmt: skip
        session.add(shop)
        session.commit()
    return shop


@contextlib.contextmanager
def receiver_shop(engine: Engine, domain: str, secret: str, token: str = "shpat_x") -> Iterator[Shop]:
    """A committed ledger shop the webhook receiver verifies deliveries for (its cache cleared around it)."""
    receiver.shops.clear()
    with Session(engine, expire_on_commit=False) as session:
        shop = Shop(domain=domain, client_secret=secret, access_token=token)
        session.add(shop)
        session.commit()
    try:
        yield shop
    finally:
        receiver.shops.clear()


def refund_lines(client: ShopifyClient, gid: str, count: int, *, together: bool = False) -> None:
    """Refunds made through Shopify's API (the merchant in the admin): one unit of each of the order's first
    ``count`` lines, 1.00 each, against its payment (a sale or a capture); ``count`` refunds of one line, or
    with ``together`` one refund of ``count`` lines (``count``.00)."""
    node = read_for_mirror(client, gid)
    assert node is not None
    paid = next(t for t in node["transactions"] if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS")
    lines = [[line] for line in node["lineItems"]["nodes"][:count]]
    for group in [[line for chunk in lines for line in chunk]] if together else lines:
        money = {"orderId": gid, "parentId": paid["id"], "amount": f"{len(group)}.00", "kind": "REFUND",
                 "gateway": paid["gateway"]}  # fmt: skip
        refund = {
            "orderId": gid,
            "refundLineItems": [{"lineItemId": line["id"], "quantity": 1} for line in group],
            "transactions": [money],
        }
        data = client.execute("RefundCreate", {"input": refund, "idempotencyKey": str(uuid.uuid4())})
        assert data["refundCreate"]["userErrors"] == []
