"""Applying snapshots: monotonic by updatedAt, idempotent, money counted once, children never lost."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.shopify.order import ShopifyOrder
from models import LedgerEntry, LineItem, Order, Shop, TimelineEvent, Transaction
from tests.mirror.factories import graphql_order, rest_order, rest_refund
from worker.db import bulk
from worker.mirror.apply import apply_snapshots
from worker.mirror.snapshot import from_graphql, from_rest


@pytest.fixture(autouse=True, params=["statements", "copy"])
def write_path(request: pytest.FixtureRequest, session: Session) -> str:
    """Every rule below holds on both PostgreSQL write paths: per-row statements and COPY + one merge."""
    if request.param == "copy":
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("COPY + merge is PostgreSQL's path; SQLite has only the statements path")
        request.getfixturevalue("monkeypatch").setattr(bulk, "COPY_MIN_ROWS", 1)
    return str(request.param)


def _shop(session: Session) -> Shop:
    shop = Shop(domain=f"s{uuid.uuid4().hex[:8]}.myshopify.com")
    session.add(shop)
    session.flush()
    return shop


def _order(session: Session, shop: Shop, number: int = 1) -> Order:
    order = session.scalars(
        select(Order).where(Order.shop_id == shop.id, Order.shopify_gid == f"gid://shopify/Order/{5000 + number}")
    ).one()
    session.refresh(order)
    return order


def _money_entries(session: Session, shop: Shop) -> list[tuple[str, Decimal]]:
    rows = session.execute(
        select(LedgerEntry.kind, LedgerEntry.amount).where(LedgerEntry.shop_id == shop.id).order_by(LedgerEntry.id)
    )
    return [(kind, amount) for kind, amount in rows]


def test_a_webhook_creates_the_order_with_its_lines(session: Session) -> None:
    shop = _shop(session)
    result = apply_snapshots(session, shop.id, [from_rest(rest_order(1))])
    assert result.created == 1
    order = _order(session, shop)
    assert (order.name, order.currency, order.total_price, order.total_shipping) == (
        "#1001", "USD", Decimal("59.00"), Decimal("5.00"),
    )  # fmt: skip
    assert order.display_financial_status == "PAID"
    assert order.display_fulfillment_status == "UNFULFILLED"
    assert order.tags == ["vip", "dropship"]
    assert [li.sku for li in order.line_items] == ["W-1", "W-2"]
    assert order.line_items[0].total_tax == Decimal("2.00")


def test_an_older_snapshot_never_overwrites_a_newer_one(session: Session) -> None:
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T12:00:00Z", financial="refunded"))])
    result = apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:00Z", financial="paid"))])
    assert result.stale == 1
    assert _order(session, shop).display_financial_status == "REFUNDED"


def test_within_a_batch_the_newest_snapshot_wins(session: Session) -> None:
    shop = _shop(session)
    snaps = [
        from_rest(rest_order(1, "2026-11-01T12:00:00Z", fulfillment="fulfilled")),
        from_rest(rest_order(1, "2026-11-01T10:00:00Z")),
    ]
    apply_snapshots(session, shop.id, snaps)
    assert _order(session, shop).display_fulfillment_status == "FULFILLED"


def test_graphql_replaces_a_webhook_at_the_same_version_but_not_the_reverse(session: Session) -> None:
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_rest(rest_order(1))])
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, fulfillment="IN_PROGRESS"))])
    assert _order(session, shop).display_fulfillment_status == "IN_PROGRESS"
    result = apply_snapshots(session, shop.id, [from_rest(rest_order(1))])  # a late duplicate webhook
    assert result.stale == 1
    assert _order(session, shop).display_fulfillment_status == "IN_PROGRESS"


def test_a_newer_webhook_keeps_the_finer_unfulfilled_status_graphql_gave(session: Session) -> None:
    """REST says null for IN_PROGRESS, ON_HOLD… alike: a newer webhook (a tag, a note) must not turn the
    ledger's IN_PROGRESS back into UNFULFILLED; a webhook that does say fulfilled still wins."""
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, fulfillment="ON_HOLD"))])
    apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T11:00:00Z"))])
    order = _order(session, shop)
    assert (order.display_fulfillment_status, order.source) == ("ON_HOLD", "webhook")
    apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T12:00:00Z", fulfillment="fulfilled"))])
    assert _order(session, shop).display_fulfillment_status == "FULFILLED"


def test_reapplying_is_idempotent_and_money_is_counted_once(session: Session) -> None:
    shop = _shop(session)
    refund = rest_refund(1, 700, "25.00")
    for _ in range(3):
        apply_snapshots(session, shop.id, [from_graphql(graphql_order(1))])
        apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-02T10:00:00Z", refunds=[refund]))])
    assert _money_entries(session, shop) == [
        ("customer_payment", Decimal("59.0000")),
        ("customer_refund", Decimal("25.0000")),
    ]
    order = _order(session, shop)
    assert order.total_refunded == Decimal("25.00")
    assert session.scalar(select(func.count()).select_from(LineItem).where(LineItem.order_id == order.id)) == 2
    txns = session.scalar(select(func.count()).select_from(Transaction).where(Transaction.order_id == order.id))
    assert txns == 2


def test_shuffled_duplicated_deliveries_converge_to_the_newest(session: Session) -> None:
    shop = _shop(session)
    versions = [
        rest_order(1, "2026-11-01T10:00:00Z"),
        rest_order(1, "2026-11-01T11:00:00Z", fulfillment="partial"),
        rest_order(1, "2026-11-02T10:00:00Z", fulfillment="fulfilled", refunds=[rest_refund(1, 700, "10.00")]),
        rest_order(1, "2026-11-03T10:00:00Z", fulfillment="fulfilled", financial="partially_refunded",
                   refunds=[rest_refund(1, 700, "10.00"), rest_refund(1, 701, "5.00")]),
    ]  # fmt: skip
    deliveries = versions * 3
    random.Random(7).shuffle(deliveries)
    for payload in deliveries:
        apply_snapshots(session, shop.id, [from_rest(payload)])
    order = _order(session, shop)
    assert order.display_financial_status == "PARTIALLY_REFUNDED"
    assert order.display_fulfillment_status == "FULFILLED"
    assert order.total_refunded == Decimal("15.00")
    assert _money_entries(session, shop) == [
        (kind, amount) for kind, amount in _money_entries(session, shop) if kind == "customer_refund"
    ]
    assert sorted(a for _, a in _money_entries(session, shop)) == [Decimal("5.0000"), Decimal("10.0000")]


def test_timeline_records_what_changed(session: Session) -> None:
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_rest(rest_order(1))])
    apply_snapshots(
        session, shop.id, [from_rest(rest_order(1, "2026-11-01T11:00:00Z", cancelled_at="2026-11-01T11:00:00Z",
                                                 financial="refunded"))]
    )  # fmt: skip
    order = _order(session, shop)
    kinds = session.scalars(
        select(TimelineEvent.kind)
        .where(TimelineEvent.order_id == order.id, TimelineEvent.kind.startswith("order."))
        .order_by(TimelineEvent.id)
    ).all()  # only the mirror's own events: cross-check alerts on the same orders are not this test's subject
    assert kinds == ["order.mirrored", "order.cancelled", "order.financial_status"]


def test_backfill_does_not_flood_the_timeline(session: Session) -> None:
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(n), source="backfill") for n in range(1, 6)])
    assert session.scalar(select(func.count()).select_from(TimelineEvent).where(TimelineEvent.shop_id == shop.id)) == 0
    assert session.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop.id)) == 5


def test_supplier_links_survive_reapplication(session: Session) -> None:
    from models import SupplierOrder, SupplierOrderItem

    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_rest(rest_order(1))])
    order = _order(session, shop)
    supplier = SupplierOrder(shop_id=shop.id, order_id=order.id, supplier_order_id="81234", status="awaiting_shipment")
    session.add(supplier)
    session.flush()
    session.add(SupplierOrderItem(supplier_order_id=supplier.id, line_item_id=order.line_items[0].id, quantity=1))
    session.flush()
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, "2026-11-05T10:00:00Z"))])
    session.expire_all()
    assert len(session.get(SupplierOrder, supplier.id).items) == 1  # type: ignore[union-attr]


def test_an_order_naming_its_aliexpress_order_is_linked_when_applied(session: Session) -> None:
    import worker.supplier.linking  # noqa: F401  (registers the mirror hook, as the worker's imports do)
    from models import SupplierOrder

    shop = _shop(session)
    payload = rest_order(1, note_attributes=[{"name": "aliexpress_order_id", "value": "8123456789012345"}])
    apply_snapshots(session, shop.id, [from_rest(payload)])
    order = _order(session, shop)
    linked = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()
    assert [s.supplier_order_id for s in linked] == ["8123456789012345"]
    assert {i.line_item_id for i in linked[0].items} == {li.id for li in order.line_items}
    apply_snapshots(session, shop.id, [from_rest({**payload, "updated_at": "2026-11-03T10:00:00Z"})])
    assert len(session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()) == 1


def test_an_order_another_transaction_inserted_meanwhile_is_merged_not_doubled(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch looked the order up before another writer inserted it: the straight insert meets the
    other's row, and the batch merges by version instead (one order, its children and money once)."""
    from worker.mirror import apply

    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1))])
    monkeypatch.setattr(apply, "_previous_rows", lambda *_: {})  # as if looked up before the other's commit
    newer = rest_order(1, "2026-11-02T10:00:00Z", refunds=[rest_refund(1, 700, "25.00")])
    result = apply_snapshots(session, shop.id, [from_rest(newer)])
    assert len(result.applied) == 1
    assert session.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop.id)) == 1
    order = _order(session, shop)
    assert order.total_refunded == Decimal("25.00")
    assert session.scalar(select(func.count()).select_from(LineItem).where(LineItem.order_id == order.id)) == 2
    assert _money_entries(session, shop) == [
        ("customer_payment", Decimal("59.0000")),
        ("customer_refund", Decimal("25.0000")),
    ]


def test_an_order_deleted_and_mirrored_again_keeps_its_money_once(session: Session) -> None:
    """Ledger entries outlive their order (``ON DELETE SET NULL``): mirroring the order again inserts it
    anew, and its payment, already in the ledger, is not counted a second time."""
    shop = _shop(session)
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1))])
    session.delete(_order(session, shop))
    session.flush()
    apply_snapshots(session, shop.id, [from_graphql(graphql_order(1))])
    assert _money_entries(session, shop) == [("customer_payment", Decimal("59.0000"))]
    assert _order(session, shop).line_items


def test_a_webhook_of_the_same_second_as_a_graphql_version_is_left_undecided_not_applied(session: Session) -> None:
    """Shopify gives updated_at to the second: a webhook from the second the ledger's GraphQL version
    carries may be newer or not. It is not written over that version; the caller has the order re-read."""
    shop = _shop(session)
    read = from_graphql(graphql_order(1, "2026-11-01T10:00:00.400Z"), source="reconcile")
    apply_snapshots(session, shop.id, [read])
    same_second = apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:00Z"))])
    assert (same_second.applied, same_second.undecided) == ([], ["gid://shopify/Order/5001"])
    assert _order(session, shop).source == "reconcile"

    later = apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:01Z"))])
    assert [a.gid for a in later.applied] == ["gid://shopify/Order/5001"]
    assert later.undecided == []
    # Between webhooks an equal version replaces the stored one: nothing is left undecided.
    again = apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:01Z"))])
    assert (len(again.applied), again.undecided) == (1, [])
    older = apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T09:59:59Z"))])
    assert (older.applied, older.undecided, older.stale) == ([], [], 1)


def test_of_two_webhooks_of_one_second_the_later_triggered_stays_whatever_order_they_are_applied_in(
    session: Session,
) -> None:
    """Two edits in one second make two webhooks with the same ``updated_at`` (REST gives seconds); Shopify
    does not deliver them in order, and two drain processes may apply them in either order. Their
    ``X-Shopify-Triggered-At`` (milliseconds) says which edit came last: that one stays."""
    shop = _shop(session)

    def webhook(tags: list[str], triggered: str | None) -> ShopifyOrder:
        at = dt.datetime.fromisoformat(triggered) if triggered else None
        return from_rest({**rest_order(1, "2026-11-01T10:00:00Z"), "tags": ", ".join(tags)}, triggered_at=at)

    first, last = (
        webhook(["first"], "2026-11-01T10:00:00.100+00:00"),
        webhook(["last"], "2026-11-01T10:00:00.600+00:00"),
    )
    apply_snapshots(session, shop.id, [last])
    late = apply_snapshots(session, shop.id, [first])  # the earlier edit's webhook, delivered after
    assert (late.applied, late.stale, late.undecided) == ([], 1, [])
    assert _order(session, shop).tags == ["last"]
    # In one batch, in either order.
    session.delete(_order(session, shop))
    session.flush()
    apply_snapshots(session, shop.id, [last, first])
    assert _order(session, shop).tags == ["last"]
    # A redelivery (same trigger time), or a webhook whose trigger time is unknown, replaces its equal.
    assert len(apply_snapshots(session, shop.id, [last]).applied) == 1
    assert len(apply_snapshots(session, shop.id, [webhook(["unknown"], None)]).applied) == 1
    assert _order(session, shop).tags == ["unknown"]


def test_a_graphql_version_of_the_same_second_as_a_webhook_s_replaces_it_and_is_left_undecided(
    session: Session,
) -> None:
    """The other way round: a GraphQL version (an export, a reconciliation page) of the second the ledger's
    webhook version carries replaces it, as it carries more, but may have been read before that webhook's
    edit. It is written, and named undecided so the caller has the order re-read."""
    shop = _shop(session)
    gid = "gid://shopify/Order/5001"
    apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:00Z"))])
    exported = apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, "2026-11-01T10:00:00.400Z"))])
    assert ([a.gid for a in exported.applied], exported.undecided) == ([gid], [gid])
    assert _order(session, shop).source == "reconcile"
    # Over a GraphQL version of the same second, or a webhook's of an older one, it decides by itself.
    again = apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, "2026-11-01T10:00:00.700Z"))])
    assert (len(again.applied), again.undecided) == (1, [])
    apply_snapshots(session, shop.id, [from_rest(rest_order(1, "2026-11-01T10:00:01Z"))])
    newer = apply_snapshots(session, shop.id, [from_graphql(graphql_order(1, "2026-11-01T10:00:02Z"))])
    assert (len(newer.applied), newer.undecided) == (1, [])
