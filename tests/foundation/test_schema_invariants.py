"""The ledger's invariants live in the schema: each rejects a violating row on the database itself."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from models import (
    CancellationRequest,
    LedgerEntry,
    LineItem,
    Order,
    Shop,
    ShopifyIntent,
    SupplierOrder,
    WebhookDelivery,
)

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _shop(session: Session) -> Shop:
    shop = Shop(domain=f"s{uuid.uuid4().hex[:8]}.myshopify.com")
    session.add(shop)
    session.flush()
    return shop


def _order(session: Session, shop: Shop, gid: str = "gid://shopify/Order/1", **overrides: object) -> Order:
    fields: dict[str, object] = {
        "shop_id": shop.id,
        "shopify_gid": gid,
        "name": "#1001",
        "currency": "USD",
        "total_price": Decimal("10.00"),
        "shopify_created_at": NOW,
        "shopify_updated_at": NOW,
    }
    fields.update(overrides)
    order = Order(**fields)
    session.add(order)
    session.flush()
    return order


def _rejected(session: Session, obj: object) -> None:
    session.add(obj)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()
    session.expunge_all()


def _intent(shop: Shop, order: Order, state: str = "pending", kind: str = "refund_create") -> ShopifyIntent:
    return ShopifyIntent(shop_id=shop.id, order_id=order.id, kind=kind, state=state, idempotency_key=uuid.uuid4().hex)


def test_delivery_ids_are_unique(session: Session) -> None:
    shop = _shop(session)
    first = WebhookDelivery(shop_id=shop.id, delivery_id="d-1", topic="orders/updated", body="{}")
    session.add(first)
    session.flush()
    _rejected(session, WebhookDelivery(shop_id=shop.id, delivery_id="d-1", topic="orders/create", body="{}"))


def test_one_live_intent_per_order_and_kind(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    session.add(_intent(shop, order, "pending"))
    session.flush()
    _rejected(session, _intent(shop, order, "unknown"))


def test_finished_intents_do_not_block_a_new_one(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    session.add_all([_intent(shop, order, "succeeded"), _intent(shop, order, "failed")])
    session.add(_intent(shop, order, "pending"))
    session.add(_intent(shop, order, "pending", kind="order_cancel"))  # other kind: independent
    session.flush()


def _cancellation(shop: Shop, order: Order, state: str) -> CancellationRequest:
    return CancellationRequest(shop_id=shop.id, order_id=order.id, reason="other", state=state, state_history=[])


def test_one_open_cancellation_request_per_order(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    session.add(_cancellation(shop, order, "requested"))
    session.flush()
    _rejected(session, _cancellation(shop, order, "supplier_shipped"))  # any open state: still the same order


def test_finished_cancellation_requests_do_not_block_a_new_one(session: Session) -> None:
    shop = _shop(session)
    order, other = _order(session, shop), _order(session, shop, "gid://shopify/Order/2")
    session.add_all([_cancellation(shop, order, state) for state in ("denied", "done", "withdrawn")])
    session.add_all([_cancellation(shop, order, "needs_operator"), _cancellation(shop, other, "requested")])
    session.flush()


def test_intent_state_must_be_known(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    _rejected(session, _intent(shop, order, "done"))


def test_idempotency_keys_are_unique(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    session.add(ShopifyIntent(shop_id=shop.id, order_id=order.id, kind="a", idempotency_key="k", state="failed"))
    session.flush()
    _rejected(session, ShopifyIntent(shop_id=shop.id, order_id=order.id, kind="b", idempotency_key="k"))


def test_ledger_amounts_are_non_negative(session: Session) -> None:
    shop = _shop(session)
    entry = LedgerEntry(
        shop_id=shop.id, kind="customer_refund", amount=Decimal("-1"), currency="USD",
        source_ref="x", occurred_at=NOW,
    )  # fmt: skip
    _rejected(session, entry)


def test_ledger_sources_are_unique(session: Session) -> None:
    shop = _shop(session)

    def entry() -> LedgerEntry:
        return LedgerEntry(
            shop_id=shop.id, kind="customer_payment", amount=Decimal("5"), currency="USD",
            source_ref="shopify:transaction:gid://shopify/OrderTransaction/9", occurred_at=NOW,
        )  # fmt: skip

    session.add(entry())
    session.flush()
    _rejected(session, entry())


def test_ledger_kind_must_be_known(session: Session) -> None:
    shop = _shop(session)
    entry = LedgerEntry(
        shop_id=shop.id, kind="gift", amount=Decimal("1"), currency="USD", source_ref="g", occurred_at=NOW
    )
    _rejected(session, entry)


def test_order_money_is_non_negative(session: Session) -> None:
    shop = _shop(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        _order(session, shop, total_price=Decimal("-0.01"))


def test_orders_are_unique_per_shop_but_not_across_shops(session: Session) -> None:
    shop, other = _shop(session), _shop(session)
    _order(session, shop)
    _order(session, other)  # the same GID in another shop is another order
    with pytest.raises(IntegrityError), session.begin_nested():
        _order(session, shop)


def test_supplier_order_refs_are_unique_per_shop(session: Session) -> None:
    shop = _shop(session)
    session.add(SupplierOrder(shop_id=shop.id, supplier_order_id="800123", status="awaiting_shipment"))
    session.flush()
    _rejected(session, SupplierOrder(shop_id=shop.id, supplier_order_id="800123", status="shipped"))


def test_line_item_quantity_is_non_negative(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop)
    item = LineItem(order_id=order.id, shopify_gid="gid://shopify/LineItem/1", title="t", quantity=-1,
                    unit_price=Decimal("1"))  # fmt: skip
    _rejected(session, item)


def test_money_refuses_floats(session: Session) -> None:
    shop = _shop(session)
    entry = LedgerEntry(shop_id=shop.id, kind="customer_payment", currency="USD", source_ref="f", occurred_at=NOW)
    entry.amount = 0.1  # type: ignore[assignment]
    session.add(entry)
    with pytest.raises(StatementError, match="Decimal"), session.begin_nested():
        session.flush()
    session.expunge_all()


def test_money_round_trips_exactly(session: Session) -> None:
    shop = _shop(session)
    order = _order(session, shop, total_price=Decimal("1234567.8912"))
    session.expire_all()
    assert session.get(Order, order.id).total_price == Decimal("1234567.8912")  # type: ignore[union-attr]


def test_timestamps_come_back_aware_utc(session: Session) -> None:
    shop = _shop(session)
    local = dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    order = _order(session, shop, shopify_updated_at=local)
    session.expire_all()
    loaded = session.get(Order, order.id)
    assert loaded is not None
    assert loaded.shopify_updated_at == NOW
    assert loaded.shopify_updated_at.tzinfo is not None
