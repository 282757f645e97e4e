"""The ledger gauges say what the database says: inbox lag, intents by state and age, deadlines, exposure."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from prometheus_client.core import Metric
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import Alert, LedgerEntry, Order, Shop, ShopifyIntent, SupplierOrder, WebhookDelivery
from models.types import utcnow
from worker.observability.ledger import LedgerCollector, read_snapshot, render

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


def _shop(session: Session) -> Shop:
    shop = Shop(domain=f"metrics-{next(_seq)}.myshopify.com")
    session.add(shop)
    session.flush()
    return shop


def _order(session: Session, shop: Shop, currency: str = "EUR") -> Order:
    n = next(_seq)
    order = Order(
        shop_id=shop.id, shopify_gid=f"gid://shopify/Order/{n}", name=f"#{n}", currency=currency,
        shopify_created_at=NOW, shopify_updated_at=NOW,
    )  # fmt: skip
    session.add(order)
    session.flush()
    return order


def _delivery(session: Session, shop: Shop, received: dt.datetime, handled: dt.datetime | None) -> None:
    n = next(_seq)
    session.add(
        WebhookDelivery(
            shop_id=shop.id, delivery_id=f"d-{n}", topic="orders/updated", body="{}", received_at=received,
            handled_at=handled,
        )
    )  # fmt: skip


def _intent(session: Session, order: Order, state: str, created: dt.datetime, kind: str) -> None:
    session.add(
        ShopifyIntent(
            shop_id=order.shop_id, order_id=order.id, kind=kind, idempotency_key=f"k-{next(_seq)}", state=state,
            created_at=created, updated_at=created,
        )
    )  # fmt: skip


def _entry(session: Session, order: Order | None, kind: str, amount: str, currency: str, **extra: object) -> None:
    session.add(
        LedgerEntry(
            shop_id=(order.shop_id if order else extra.pop("shop_id")), order_id=order.id if order else None,
            kind=kind, amount=Decimal(amount), currency=currency, source_ref=f"test:{next(_seq)}", occurred_at=NOW,
            **extra,
        )
    )  # fmt: skip


def _samples(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples}


def test_an_empty_ledger_reports_zeroes_not_absences(session: Session) -> None:
    values = _samples(render(read_snapshot(session.connection(), NOW), NOW))
    assert values[("dropsync_inbox_lag_seconds", ())] == 0
    assert values[("dropsync_intents", (("state", "unknown"),))] == 0
    assert values[("dropsync_intent_oldest_live_seconds", ())] == 0


def test_gauges_follow_the_ledger(session: Session) -> None:
    shop = _shop(session)
    first, second, third = _order(session, shop), _order(session, shop), _order(session, shop, "USD")
    _delivery(session, shop, NOW - dt.timedelta(seconds=90), None)
    _delivery(session, shop, NOW - dt.timedelta(seconds=30), None)
    _delivery(session, shop, NOW - dt.timedelta(hours=5), NOW - dt.timedelta(hours=5))  # handled: not lag
    _intent(session, first, "pending", NOW - dt.timedelta(minutes=2), "order_cancel")
    _intent(session, second, "unknown", NOW - dt.timedelta(hours=3), "refund_create")
    _intent(session, first, "succeeded", NOW - dt.timedelta(days=9), "refund_create")
    _intent(session, second, "failed", NOW - dt.timedelta(days=9), "order_cancel")
    supplier_order = SupplierOrder(
        shop_id=shop.id, order_id=second.id, supplier_order_id="ae-1", status="closed_cancelled"
    )
    session.add(supplier_order)
    session.flush()
    session.add_all(
        [
            Alert(shop_id=shop.id, kind="protection_ending", message="m", due_at=NOW + dt.timedelta(days=2),
                  dedupe_key=f"a-{next(_seq)}", raised_at=NOW, severity="warning"),
            Alert(shop_id=shop.id, kind="protection_ending", message="m", due_at=NOW - dt.timedelta(hours=1),
                  dedupe_key=f"a-{next(_seq)}", raised_at=NOW, severity="critical"),
            Alert(shop_id=shop.id, kind="tracking_due", message="m", due_at=NOW - dt.timedelta(days=1),
                  dedupe_key=f"a-{next(_seq)}", raised_at=NOW, resolved_at=NOW),  # resolved: not due
            Alert(shop_id=shop.id, kind="status_unknown", message="m", due_at=None,
                  dedupe_key=f"a-{next(_seq)}", raised_at=NOW),
        ]
    )  # fmt: skip
    _entry(session, first, "customer_refund", "30.00", "EUR")  # no supplier was paid: nothing to recover
    _entry(session, first, "customer_payment", "99.00", "EUR")  # a payment is not exposure
    _entry(session, second, "customer_refund", "20.00", "EUR")
    # The supplier refund is linked to the supplier order only: it still offsets the second order.
    _entry(session, None, "supplier_refund", "12.50", "EUR", shop_id=shop.id, supplier_order_id=supplier_order.id)
    _entry(session, third, "customer_refund", "5.00", "USD")
    _entry(session, third, "supplier_refund", "8.00", "USD")  # recovered more than refunded: 0, not -3
    session.flush()

    values = _samples(render(read_snapshot(session.connection(), NOW), NOW))

    assert values[("dropsync_inbox_lag_seconds", ())] == pytest.approx(90)
    assert values[("dropsync_inbox_unhandled", ())] == 2
    assert values[("dropsync_intents", (("state", "pending"),))] == 1
    assert values[("dropsync_intents", (("state", "unknown"),))] == 1
    assert values[("dropsync_intents", (("state", "failed"),))] == 1
    assert ("dropsync_intents", (("state", "succeeded"),)) not in values, "history is not rescanned per scrape"
    assert values[("dropsync_intents", (("state", "submitting"),))] == 0
    assert values[("dropsync_intent_oldest_live_seconds", ())] == pytest.approx(3 * 3600)
    assert values[("dropsync_intent_oldest_seconds", (("state", "pending"),))] == pytest.approx(120)
    assert values[("dropsync_deadlines_due", (("kind", "protection_ending"),))] == 2
    assert values[("dropsync_deadlines_overdue", (("kind", "protection_ending"),))] == 1
    assert ("dropsync_deadlines_due", (("kind", "tracking_due"),)) not in values
    assert values[("dropsync_deadlines_due", (("kind", "status_unknown"),))] == 0
    assert values[("dropsync_alerts_open", (("kind", "protection_ending"), ("severity", "critical")))] == 1
    assert values[("dropsync_alerts_open", (("kind", "status_unknown"), ("severity", "warning")))] == 1
    assert values[("dropsync_exposure", (("currency", "EUR"),))] == pytest.approx(7.50)
    assert values[("dropsync_exposure", (("currency", "USD"),))] == 0


def test_an_unreadable_ledger_reports_down_instead_of_zeroes() -> None:
    from sqlalchemy import create_engine

    broken = create_engine("sqlite:////nonexistent-dir/ledger.sqlite3")
    families = list(LedgerCollector(lambda: broken).collect())
    values = _samples(families)
    assert values[("dropsync_ledger_metrics_up", ())] == 0
    assert not any(name == "dropsync_inbox_lag_seconds" for name, _ in values)


def test_exposure_is_cached_briefly_while_other_gauges_stay_live(committed_db: Engine) -> None:
    with Session(committed_db, expire_on_commit=False) as session, session.begin():
        order = _order(session, _shop(session))
        _entry(session, order, "supplier_payment", "4.00", "USD")
        _entry(session, order, "customer_refund", "10.00", "EUR")
    cached, uncached = LedgerCollector(lambda: committed_db, 3600), LedgerCollector(lambda: committed_db, 0)
    assert _samples(list(cached.collect()))[("dropsync_exposure", (("currency", "EUR"),))] == 10
    with Session(committed_db) as session, session.begin():
        _entry(session, session.get(Order, order.id), "customer_refund", "5.00", "EUR")
        _delivery(session, session.get(Shop, order.shop_id), utcnow(), None)  # type: ignore[arg-type]
    again = _samples(list(cached.collect()))
    assert again[("dropsync_exposure", (("currency", "EUR"),))] == 10
    assert again[("dropsync_inbox_unhandled", ())] == 1
    assert _samples(list(uncached.collect()))[("dropsync_exposure", (("currency", "EUR"),))] == 15


def test_a_hanging_database_does_not_hang_the_scrape() -> None:
    import threading

    release = threading.Event()

    def hanging_engine() -> Engine:
        release.wait(10)  # a blackholed database host: connect blocks
        raise ConnectionError("gave up")

    collector = LedgerCollector(hanging_engine, deadline=0.2)
    try:
        first = _samples(list(collector.collect()))
        second = _samples(list(collector.collect()))  # the stuck read is still running: no second thread
    finally:
        release.set()
    assert first[("dropsync_ledger_metrics_up", ())] == 0
    assert second[("dropsync_ledger_metrics_up", ())] == 0
    assert first[("dropsync_ledger_metrics_seconds", ())] < 2
