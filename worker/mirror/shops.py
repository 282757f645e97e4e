"""Which shops the mirror serves, and the Shopify client of each."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.shared_bucket import share_buckets
from models import Shop
from worker.db import session_scope
from worker.errors import NotFoundError
from worker.settings import Settings, get_settings
from worker.shops import ensure_env_shop


def active_shop_ids(session: Session) -> list[int]:
    ensure_env_shop(session, get_settings())
    return list(session.scalars(select(Shop.id).where(Shop.active.is_(True)).order_by(Shop.id)))


def share_cost_buckets(settings: Settings) -> None:
    """Every process of the deployment paces on one bucket per shop: in Redis when ``REDIS_URL`` is set,
    else in a SQLite file beside the embedded broker's (the embedded setup runs on one machine)."""
    if settings.redis_url:
        share_buckets(redis_url=settings.redis_url, prefix=settings.redis_key_prefix)
    else:
        broker = Path(settings.embedded_broker_path).resolve()
        share_buckets(path=broker.with_name(f"{broker.stem}-shopify-buckets.sqlite3"))


@contextlib.contextmanager
def client_for_shop(shop_id: int) -> Iterator[ShopifyClient]:
    settings = get_settings()
    share_cost_buckets(settings)
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        if shop is None:
            raise NotFoundError(f"unknown shop id {shop_id}")
        client = ShopifyClient.for_shop(shop, settings)
    try:
        yield client
    finally:
        client.close()
