"""Which shops the mirror serves, and the Shopify client of each."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Shop
from worker.db import session_scope
from worker.errors import NotFoundError
from worker.settings import get_settings
from worker.shops import ensure_env_shop


def active_shop_ids(session: Session) -> list[int]:
    ensure_env_shop(session, get_settings())
    return list(session.scalars(select(Shop.id).where(Shop.active.is_(True)).order_by(Shop.id)))


@contextlib.contextmanager
def client_for_shop(shop_id: int) -> Iterator[ShopifyClient]:
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        if shop is None:
            raise NotFoundError(f"unknown shop id {shop_id}")
        client = ShopifyClient.for_shop(shop, get_settings())
    try:
        yield client
    finally:
        client.close()
