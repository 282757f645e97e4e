"""Chargeback fixtures: the cancellation suite's sandbox, shop, client and outbox recorder, plus helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Shop
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, client, mirror, published, sandbox, shop  # noqa: F401  (fixtures)
from tests.support.cli import InProcess, in_process
from tests.support.web import serve_app
from worker.chargebacks import (
    hooks,  # noqa: F401  (the disputes/* topic handlers, as the worker loads them)
    sync,
)
from worker.db import session_scope
from worker.mirror import inbox
from worker.settings import get_settings
from worker.web.app import create_app


@pytest.fixture
def cli(
    shop: Shop,  # noqa: F811
    published: Published,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[InProcess]:
    """The CLI in this process, on the suite's database and shop (its own shop domain is never used)."""
    yield in_process(monkeypatch, capsys, {"SHOPIFY_SHOP_DOMAIN": "cli-unused.myshopify.com"})
    get_settings.cache_clear()


@pytest.fixture
def webhooks(sandbox: ShopifySandbox, shop: Shop) -> Iterator[None]:  # noqa: F811
    """The real receiver on a port, subscribed to the dispute topics."""
    with serve_app(create_app()) as base_url:
        for topic in ("disputes/create", "disputes/update"):
            sandbox.control.subscribe(topic, f"{base_url}/webhooks/shopify")
        yield


def deliver(sandbox: ShopifySandbox) -> None:  # noqa: F811
    """Wait for the sandbox's deliveries to land in the inbox, then drain it as the worker does."""
    assert sandbox.control.wait_for_webhooks(timeout=20)
    inbox.drain(session_scope)


def fulfilled_order(
    sandbox: ShopifySandbox,  # noqa: F811
    tracking: str = "YT2412345678",
    aliexpress_order_id: str | None = None,
) -> str:
    """A paid order the fulfillment service shipped with ``tracking`` (linked to ``aliexpress_order_id``)."""
    gid = sandbox.control.create_order(status="accepted", line_items=1, aliexpress_order_id=aliexpress_order_id)
    sandbox.control.fulfillment(gid, "fulfill", tracking_company="YunExpress", tracking_number=tracking)
    return gid


def open_and_read(
    sandbox: ShopifySandbox,  # noqa: F811
    client: ShopifyClient,  # noqa: F811
    shop_id: int,
    order_gid: str,
    reason: str,
    **options: object,
) -> Chargeback:
    """Open a dispute on the sandbox and read it into the ledger as the refresh task does."""
    dispute_gid = sandbox.control.open_dispute(order_gid, reason=reason, **options)
    assert sync.refresh(session_scope, shop_id, dispute_gid, client) == "NEEDS_RESPONSE"
    with session_scope() as session:
        return session.scalars(select(Chargeback).where(Chargeback.dispute_gid == dispute_gid)).one()
