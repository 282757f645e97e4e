"""Shops: the one from the environment, and the ones added with ``dropsync shops add``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Shop
from worker import secrets
from worker.errors import NotFoundError, UsageError
from worker.settings import Settings


def normalize_domain(domain: str) -> str:
    domain = domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not domain or "/" in domain or " " in domain:
        raise UsageError(f"not a shop domain: {domain!r} (expected e.g. example.myshopify.com)")
    if "." not in domain:
        domain = f"{domain}.myshopify.com"
    return domain


def ensure_env_shop(session: Session, settings: Settings) -> Shop | None:
    """Create (or refresh) the shop configured by ``SHOPIFY_SHOP_DOMAIN``; flushes, never commits.

    Its credentials stay in the environment (the client and the receiver read them from there): a
    database dump must not hand them over. A copy left by an older version is erased.
    """
    if not settings.shopify_shop_domain:
        return None
    domain = normalize_domain(settings.shopify_shop_domain)
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        shop = Shop(domain=domain)
        session.add(shop)
    if settings.shopify_access_token and shop.access_token is not None:
        shop.access_token = None
    if settings.shopify_client_secret and shop.client_secret is not None:
        shop.client_secret = None
    shop.api_url = settings.shopify_api_url or shop.api_url
    session.flush()
    return shop


def add_shop(session: Session, domain: str, access_token: str, client_secret: str, api_url: str | None = None) -> Shop:
    """Add (or update) a shop; its credentials are stored sealed. Refuses first when no key is set."""
    domain = normalize_domain(domain)
    secrets.keyring(create=True)  # the clear error here, not inside a flush that would quote the values
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        shop = Shop(domain=domain)
        session.add(shop)
    shop.access_token, shop.client_secret, shop.api_url, shop.active = (
        access_token,
        client_secret,
        api_url,
        True,
    )
    session.flush()
    return shop


def get_shop(session: Session, domain: str | None = None) -> Shop:
    """The named shop, or the only/first active one when no name is given."""
    if domain:
        shop = session.scalar(select(Shop).where(Shop.domain == normalize_domain(domain)))
        if shop is None:
            raise NotFoundError(f"unknown shop {domain!r} (see `dropsync shops list`)")
        return shop
    shop = session.scalar(select(Shop).where(Shop.active.is_(True)).order_by(Shop.id))
    if shop is None:
        raise NotFoundError("no shop configured: set SHOPIFY_SHOP_DOMAIN or run `dropsync shops add`")
    return shop


def shop_by_domain(session: Session, domain: str) -> Shop | None:
    try:
        normalized = normalize_domain(domain)
    except UsageError:
        return None
    return session.scalar(select(Shop).where(Shop.domain == normalized, Shop.active.is_(True)))
