"""Fixtures for the cancellation workflow: a committed ledger mirrored from the Shopify sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from integrations.shopify.client import ShopifyClient
from models import Order, Shop
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.support.cli import InProcess, in_process
from tests.support.shopify import register_sandbox_shop
from worker import outbox
from worker.db import session_scope
from worker.mirror import receiver
from worker.mirror.apply import apply_snapshots
from worker.mirror.reconcile import read_for_mirror
from worker.mirror.snapshot import from_graphql
from worker.settings import get_settings


@pytest.fixture
def sandbox() -> Iterator[ShopifySandbox]:
    config = SandboxConfig(
        seed=5, orders=3, plan="standard", shop_domain="cancel.myshopify.com", access_token="shpat_cancel",
        client_secret="cancel-secret", webhook_backoff=(0.05, 0.1), job_delay_seconds=0.0,
    )  # fmt: skip
    box = ShopifySandbox(config)
    with box.serve():
        yield box
    box.close()


@pytest.fixture
def shop(committed_db: Engine, sandbox: ShopifySandbox) -> Iterator[Shop]:
    yield register_sandbox_shop(committed_db, sandbox)
    receiver.shops.clear()


@pytest.fixture
def client(sandbox: ShopifySandbox) -> Iterator[ShopifyClient]:
    with ShopifyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


class Published:
    """The outbox publisher during a test: records (task, args) instead of sending to a broker."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[Any]]] = []

    def __call__(self, task: str, args: list[Any]) -> None:
        self.messages.append((task, list(args)))

    def take(self) -> list[tuple[str, list[Any]]]:
        out, self.messages = self.messages, []
        return out


@pytest.fixture
def published() -> Iterator[Published]:
    recorder = Published()
    previous = outbox.set_publisher(recorder)
    yield recorder
    outbox.set_publisher(previous)


@pytest.fixture
def cli(
    shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[InProcess]:
    """``dropsync`` in process, on the test's ledger (its tasks captured by ``published``)."""
    yield in_process(monkeypatch, capsys, {"SHOPIFY_SHOP_DOMAIN": "cli-unused.myshopify.com"})
    get_settings.cache_clear()


def mirror(client: ShopifyClient, shop_id: int, gid: str) -> int:
    """Bring one Shopify order into the ledger as reconciliation would; returns its ledger id."""
    node = read_for_mirror(client, gid)
    assert node is not None
    with session_scope() as session:
        result = apply_snapshots(session, shop_id, [from_graphql(node, source="reconcile")])
        return (
            result.applied[0].order_id
            if result.applied
            else session.query(Order.id).filter_by(shopify_gid=gid).one()[0]
        )
