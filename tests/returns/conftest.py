"""Fixtures for the returns workflow: the cancellation tests' Shopify sandbox, shop, client and publisher,
plus a fulfilled order mirrored into a committed ledger with a delivered supplier order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import LedgerEntry, LineItem, Order, ReturnCase, Shop, SupplierOrder
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, cli, client, mirror, published, sandbox, shop
from worker.db import session_scope
from worker.returns import execution, service
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence
from worker.settings import get_settings
from worker.supplier import service as supplier

__all__ = ["Published", "cli", "client", "published", "sandbox", "shop"]

#: The default policy, plus store decisions: "wrong size" is taken back within 30 days, the customer keeps
#: it, and the store pays what its supplier won't (no escalation for the unrecovered cost); a wrong item
#: must come back (at the store's cost) before the refund.
WRONG_SIZE_POLICY = """
[escalation]
unrecovered_supplier_cost = "allow"

[returns.reasons.wrong_size]
accepted = true
window_days = 30
return_required = false

[returns.reasons.wrong_item]
accepted = true
evidence = ["photos"]
return_required = true
return_shipping_paid_by = "store"
"""


def _policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Iterator[Path]:
    """``text`` as the store's policy file (DROPSYNC_POLICY_FILE) for one test."""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    monkeypatch.setenv("DROPSYNC_POLICY_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def store_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from _policy(tmp_path, monkeypatch, WRONG_SIZE_POLICY)


def fulfilled_order(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, *, lines: int = 3, delivered_days_ago: int = 3,
    supplier_status: str = "delivered",
) -> tuple[str, int, int]:  # fmt: skip
    """A paid, fulfilled Shopify order mirrored, with one paid AliExpress order delivered N days ago."""
    gid = sandbox.control.create_order(status="fulfilled", line_items=lines)
    order_id = mirror(client, shop.id, gid)
    delivered = dt.datetime.now(dt.UTC) - dt.timedelta(days=delivered_days_ago)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        # Some generated orders carry an AliExpress number the mirror already linked: play that one.
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).first()
        if so is None:
            so = supplier.link_supplier_order(session, order, f"81{order_id:014d}", None, "operator:test")
        so.status, so.amount_paid, so.currency = supplier_status, Decimal("20.00"), "USD"
        so.paid_at = so.shipped_at = delivered - dt.timedelta(days=10)
        so.delivered_at = delivered
        if supplier_status == "closed_completed":
            so.closed_at = delivered
        session.flush()
        return gid, order_id, so.id


def supplier_order(so_id: int) -> SupplierOrder:
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        session.expunge(so)
        return so


def return_case(return_id: int) -> ReturnCase:
    """The return as the ledger holds it now (detached)."""
    with session_scope() as session:
        case = session.get_one(ReturnCase, return_id)
        session.expunge(case)
        return case


#: A store that wants damaged goods back (at its cost) before the refund: returns wait in awaiting_goods.
GOODS_BACK_POLICY = """
[returns.reasons.damaged]
accepted = true
evidence = ["photos"]
return_required = true
return_shipping_paid_by = "store"
"""


@pytest.fixture
def goods_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from _policy(tmp_path, monkeypatch, GOODS_BACK_POLICY)


def refunded(order_id: int) -> Decimal:
    """What the ledger holds as refunded to the customer (the mirror of Shopify's refunds)."""
    with session_scope() as session:
        query = select(LedgerEntry.amount).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind == "customer_refund"
        )
        return sum(session.scalars(query).all(), Decimal(0))


def waiting_for_goods(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[int, int, str, str]:
    """A damaged line approved and opened on Shopify, the goods on their way back, nothing refunded yet (the
    ``goods_back`` policy): (return id, order id, Return GID, order GID)."""
    order_gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line = session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line): 1},
            evidence=parse_evidence("photos"), actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "wait"
    case = return_case(return_id)
    assert case.state == rs.AWAITING_GOODS
    assert case.shopify_gid is not None
    assert sandbox.control.return_snapshot(case.shopify_gid)["status"] == "OPEN"
    assert refunded(order_id) == 0  # nothing before the goods are back
    return return_id, order_id, case.shopify_gid, order_gid


def damaged_return_done(client: ShopifyClient, order_id: int, line_id: int) -> int:
    """A damaged line the customer keeps, with photos: approved, processed, refunded and closed."""
    with session_scope() as session:
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1},
            evidence=parse_evidence("photos=IMG_1.jpg"), keep_item=True, actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "done"
    case = return_case(return_id)
    assert case.state == rs.DONE
    assert case.refund_total > 0
    return return_id
