"""Test helpers around the Shopify sandbox shared by the mirror and cancellation suites."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import Shop
from sandboxes.shopify import ShopifySandbox
from worker.mirror import receiver


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
