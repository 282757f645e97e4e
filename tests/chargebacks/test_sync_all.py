"""The beat's dispute sweep over every shop: one shop Shopify refuses does not stop the others."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Shop
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from worker.chargebacks import tasks
from worker.db import session_scope


def test_a_shop_with_a_revoked_token_does_not_stop_the_others_disputes_being_read(
    committed_db: Engine, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """Played with `dropsync up`: a second shop whose token Shopify refuses (401) was in the ledger; from
    then on every `chargebacks.sync_all` died at it, so a dispute whose webhook was lost on any shop after
    it was never read, and no deadline alert came for it."""
    with Session(committed_db) as session:
        session.add(Shop(id=shop.id - 1, domain="revoked.myshopify.com", access_token="shpat_revoked",
                         client_secret="x" * 16, api_url=sandbox.base_url))  # swept first  # fmt: skip
        session.commit()
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    dispute = sandbox.control.open_dispute(gid, reason="CREDIT_NOT_PROCESSED")  # no webhook subscribed: lost
    with pytest.raises(tasks.ShopsFailedError, match=rf"shop\(s\) \[{shop.id - 1}\]"):
        tasks.sync_all()  # still fails, for the refused shop ...
    with session_scope() as session:  # ... after reading the good one's disputes
        assert session.scalars(select(Chargeback.dispute_gid)).all() == [dispute]
