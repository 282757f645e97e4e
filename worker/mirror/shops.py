"""Which shops the mirror serves, the Shopify client of each, and the receiver's directory of them."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer
from starlette.concurrency import run_in_threadpool

from integrations.shopify.client import ShopifyClient
from integrations.shopify.shared_bucket import share_buckets
from models import Shop
from worker.db import session_scope
from worker.errors import NotFoundError, UsageError
from worker.settings import Settings, get_settings
from worker.shopify_clients import shopify_client_for
from worker.shops import ensure_env_shop, normalize_domain

log = structlog.get_logger(__name__)


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
        client = shopify_client_for(shop, settings)
    try:
        yield client
    finally:
        client.close()


def for_each_shop(what: str, work: Callable[[int, ShopifyClient], int]) -> tuple[int, list[int]]:
    """``work(shop_id, client)`` for every active shop, summed; a shop that fails (Shopify refuses its
    token, a read times out) is logged and skipped, never stopping the others. Returns (the sum, the shop
    ids that failed): a beat task raises :class:`ShopsFailedError` with them once every shop was tried."""
    with session_scope() as session:
        shop_ids = active_shop_ids(session)
    done, failed = 0, []
    for shop_id in shop_ids:
        try:
            with client_for_shop(shop_id) as client:
                done += work(shop_id, client)
        except Exception as exc:
            log.error(f"{what} failed for a shop; the others go on", shop_id=shop_id, error=str(exc))
            failed.append(shop_id)
    return done, failed


class ShopsFailedError(Exception):
    """Some shops failed in a sweep over every shop (each logged with its error); the task fails, after
    every shop was tried, so the failure shows in the worker's metrics and Flower."""


@dataclass(frozen=True, slots=True)
class KnownShop:
    id: int
    secret: str | None


class ShopsUnavailable(Exception):
    """The ledger could not be read and the shop is not in the last snapshot: answer 503 (Shopify retries)."""


#: A domain longer than the ``shops.domain`` column cannot be a shop: refused without a lookup.
MAX_DOMAIN_LENGTH = 255


class ShopDirectory:
    """Domain → (shop id, webhook secret) of every active shop, for the webhook receiver.

    Memory is bounded by the ledger, never by what clients send: the active shops are read whole into
    one snapshot (at start-up, and again once it is older than ``ttl_seconds``), and an unknown domain
    gets no entry at all. A miss re-reads the snapshot (a shop added a moment ago must be found), at most
    once per ``miss_refresh_seconds`` and shared by every concurrent miss: a flood of made-up domains
    costs at most one query per interval (4,000 unique 8 KB domains once cost 4,000 queries and +26 MB).

    The configured shop (``SHOPIFY_SHOP_DOMAIN``) is known from start-up: its row is ensured on the
    first load (the inbox references it), and its secret is ``SHOPIFY_CLIENT_SECRET``, held in memory.
    """

    ttl_seconds = 30.0
    miss_refresh_seconds = 1.0

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._shops: dict[str, KnownShop] = {}
        self._loaded_at = -math.inf
        self._attempted_at = -math.inf
        self._failed = False
        self._env_ensured = False
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def lookup(self, domain: str) -> KnownShop | None:
        key = _domain_key(domain)
        if key is None:
            return None
        found = self._shops.get(key)
        now = time.monotonic()
        if found is not None and now - self._loaded_at < self.ttl_seconds:
            return found
        if found is None and now - self._attempted_at < self.miss_refresh_seconds:
            if self._failed:
                raise ShopsUnavailable("the shops could not be read; retry")
            return None
        await self._refresh(now)
        found = self._shops.get(key)
        if found is None and self._failed:
            raise ShopsUnavailable("the shops could not be read; retry")
        return found

    async def warm(self) -> None:
        """Load the snapshot now (start-up); a ledger that is down is logged, and retried on demand."""
        await self._refresh(time.monotonic())

    async def _refresh(self, asked_at: float) -> None:
        async with self._lock():
            if self._attempted_at >= asked_at:
                return  # another request refreshed while this one waited: one query serves them all
            self._attempted_at = time.monotonic()
            try:
                self._shops = await run_in_threadpool(self._load)
            except Exception as exc:
                self._failed = True
                log.warning("could not read the shops; keeping the last snapshot", error=type(exc).__name__)
                return
            self._failed, self._loaded_at = False, time.monotonic()

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()  # one lock per loop: tests run several apps, each in its own loop
        if loop not in self._locks:
            self._locks = {loop: asyncio.Lock()}
        return self._locks[loop]

    def _load(self) -> dict[str, KnownShop]:
        settings = get_settings()
        if not self._env_ensured:
            self._ensure_env_shop()
        env_domain = normalize_domain(settings.shopify_shop_domain) if settings.shopify_shop_domain else None
        with session_scope() as session:
            # the secrets in the same statement (deferred columns elsewhere): one query a refresh, not one more per shop
            active = select(Shop).where(Shop.active.is_(True)).options(undefer(Shop.client_secret))
            shops = session.scalars(active)
            return {
                shop.domain: KnownShop(
                    shop.id,
                    settings.shopify_client_secret
                    if shop.domain == env_domain and settings.shopify_client_secret
                    else shop.client_secret,
                )
                for shop in shops
            }

    def _ensure_env_shop(self) -> None:
        try:
            with session_scope() as session:
                ensure_env_shop(session, get_settings())
        except Exception as exc:  # e.g. another web process inserted it at the same moment: read it next
            log.warning("could not register the configured shop yet", error=type(exc).__name__)
            return
        self._env_ensured = True


def _domain_key(domain: str) -> str | None:
    if len(domain) > MAX_DOMAIN_LENGTH:
        return None
    try:
        return normalize_domain(domain)
    except UsageError:
        return None
