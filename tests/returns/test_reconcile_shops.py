"""Beat's ``returns.reconcile`` over the shops: the only thing that finds a customer's return request whose
``returns/request`` webhook was lost. One shop Shopify refuses (a revoked token, an uninstalled app) must not
stop the other shops' lost requests being found, on every run; a shop no longer active is not read."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Shop
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from tests.returns.conftest import Published
from worker.mirror.shops import ShopsFailedError
from worker.returns import service, tasks


def test_a_shop_with_a_revoked_token_does_not_stop_the_others_lost_return_requests_being_found(
    committed_db: Engine, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    revoked, inactive = shop.id - 1, shop.id - 2
    with Session(committed_db) as session:
        session.add(Shop(id=revoked, domain="a-revoked.myshopify.com", access_token="shpat_revoked",
                         client_secret="x" * 16, api_url=sandbox.base_url))  # fmt: skip
        session.add(Shop(id=inactive, domain="an-uninstalled.myshopify.com", access_token="shpat_gone",
                         client_secret="y" * 16, api_url=sandbox.base_url, active=False))  # fmt: skip
        session.commit()
        # A query with no ORDER BY: on PostgreSQL a row updated later (any change of the good shop's settings)
        # comes after the refused ones; on SQLite the domain index orders them. Either way the good shop is last.
        session.execute(text("UPDATE shops SET domain = domain WHERE id = :id"), {"id": shop.id})
        session.commit()
        assert session.scalars(select(Shop.id)).all()[-1] == shop.id
    gid = sandbox.control.create_order(status="fulfilled", line_items=1)
    mirror(client, shop.id, gid)
    return_gid = sandbox.control.return_request(gid)  # no webhook subscribed: returns/request lost
    published.take()

    # The task still fails (visible in the worker's metrics and Flower), for the refused shop alone: the
    # inactive one is not read at all ...
    with pytest.raises(ShopsFailedError, match=rf"shop\(s\) \[{revoked}\]; 1 queued"):
        tasks.reconcile()  # beat, every 5 min
    # ... after the good shop's lost request was queued for returns.sync.
    synced = [args for task, args in published.take() if task == service.SYNC_TASK]
    assert synced == [[shop.id, return_gid]], synced
