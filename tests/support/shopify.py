"""Test helpers around the Shopify sandbox shared by the mirror and cancellation suites."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from integrations.shopify.sandbox import ShopifySandbox
from models import Shop
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
