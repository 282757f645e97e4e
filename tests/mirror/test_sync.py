"""Reconciliation and bulk backfill against the Shopify sandbox: complete, resumable, no gaps."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import ShopifyOrder
from models import BulkBackfill, LedgerEntry, LineItem, Order, Refund, Shop, Transaction
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from sandboxes.shopify.payloads import order_json
from tests.cancellation.conftest import Published
from tests.support.database import abort_as
from tests.support.shopify import refund_lines, register_sandbox_shop
from worker.db import session_scope
from worker.mirror import backfill, inbox, reconcile
from worker.mirror.apply import ApplyResult
from worker.mirror.inbox import IncomingDelivery, store_deliveries
from worker.settings import get_settings


@pytest.fixture
def sandbox() -> Iterator[ShopifySandbox]:
    config = SandboxConfig(seed=4, orders=40, plan="plus", shop_domain="sync.myshopify.com", access_token="shpat_sync",
                           client_secret="sync-secret", job_delay_seconds=0.0)  # fmt: skip
    box = ShopifySandbox(config)
    with box.serve():
        yield box
    box.close()


@pytest.fixture
def shop_id(committed_db: Engine, sandbox: ShopifySandbox) -> int:
    return register_sandbox_shop(committed_db, sandbox).id


@pytest.fixture
def client(sandbox: ShopifySandbox) -> Iterator[ShopifyClient]:
    with ShopifyClient(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url) as c:
        yield c


def _exported(shop_id: int, client: ShopifyClient) -> tuple[int, str]:
    """A backfill started and its bulk operation finished: (backfill id, result URL)."""
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        backfill_id = backfill.start(session, shop, client, since=None).id
    return backfill_id, backfill.wait_for_result(session_scope, backfill_id, client, poll_seconds=0.05, timeout=30)


def _gids(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(Order.shopify_gid)))


def _orders(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def test_reconcile_reads_every_order_once_and_advances_the_watermark(
    shop_id: int, client: ShopifyClient, committed_db: Engine
) -> None:
    first = reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(minutes=5))
    assert (first.orders_seen, first.drift) == (40, 40)
    assert _orders(committed_db) == 40
    again = reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(minutes=5))
    assert again.drift == 0  # only the overlap window is re-read, and nothing in it is new
    assert again.orders_seen < 40
    with Session(committed_db) as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        newest = session.scalar(select(func.max(Order.shopify_updated_at)))
        assert shop.orders_watermark == newest
        assert shop.throttle_restore_rate is not None  # the bucket Shopify reported is kept


def test_a_crashed_sweep_resumes_from_its_last_committed_page_without_gaps(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox
) -> None:
    pages: list[int] = []

    def crash_after_two_pages(result: reconcile.ReconcileResult) -> None:
        pages.append(result.orders_seen)
        if len(pages) == 2:
            raise SystemExit("worker killed mid-sweep")

    with pytest.raises(SystemExit):
        reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(0), on_page=crash_after_two_pages)
    partial = _orders(committed_db)
    assert 0 < partial < 40
    for gid in (sandbox.control.create_order(status="paid") for _ in range(3)):
        assert gid
    reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(0))
    assert _orders(committed_db) == 43


def test_backfill_applies_every_order_with_its_lines(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox
) -> None:
    backfill_id, url = _exported(shop_id, client)
    applied = backfill.apply_result(session_scope, backfill_id, lambda skip: backfill.stream_lines(url, skip),
                                    batch_orders=7)  # fmt: skip
    assert applied == 40
    with Session(committed_db) as session:
        run = session.get(BulkBackfill, backfill_id)
        assert run is not None
        assert (run.status, run.orders_applied) == ("completed", 40)
        lines = session.scalar(select(func.count()).select_from(LineItem))
        expected = sum(len(sandbox.control.snapshot(gid)["line_items"]) for gid in
                       session.scalars(select(Order.shopify_gid)))  # fmt: skip
        assert lines == expected
        # each order's document, as the export assembled it (kept as JSON while its batch waited)
        for order in session.scalars(select(Order)):
            assert order.raw["id"] == order.shopify_gid
            shopify_lines = sandbox.control.snapshot(order.shopify_gid)["line_items"]
            assert len(order.raw["lineItems"]["nodes"]) == len(shopify_lines)
        shop = session.get(Shop, shop_id)
        assert shop is not None
        assert shop.orders_watermark == run.created_at


def test_a_crashed_backfill_resumes_from_its_checkpoint(
    shop_id: int, client: ShopifyClient, committed_db: Engine
) -> None:
    backfill_id, url = _exported(shop_id, client)
    read_from: list[int] = []

    def lines(skip: int) -> Iterable[bytes]:
        read_from.append(skip)
        for number, line in enumerate(backfill.stream_lines(url, skip)):
            if len(read_from) == 1 and number == 60:
                raise ConnectionError("download cut off")
            yield line

    with pytest.raises(ConnectionError):
        backfill.apply_result(session_scope, backfill_id, lines, batch_orders=5)
    done_before = _orders(committed_db)
    assert 0 < done_before < 40
    applied = backfill.apply_result(session_scope, backfill_id, lines, batch_orders=5)
    assert read_from[1] > 0  # the second run skipped what the first committed
    assert done_before + applied == 40
    assert _orders(committed_db) == 40


def test_a_batch_failing_among_parallel_appliers_keeps_the_checkpoint_behind_it(
    shop_id: int, client: ShopifyClient, committed_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches run two at a time; the checkpoint never passes a batch that did not commit."""
    backfill_id, url = _exported(shop_id, client)
    rows = list(backfill.stream_lines(url))
    orders = [node["id"] for _, node in backfill.assemble_orders(rows)]
    real_apply = backfill.apply_snapshots

    def third_batch_fails(session: Session, shop: int, batch: list[ShopifyOrder]) -> ApplyResult:
        if any(snapshot.gid == orders[10] for snapshot in batch):  # orders 11-15: the third batch of 5
            raise RuntimeError("the database refused this batch")
        return real_apply(session, shop, batch)

    monkeypatch.setattr(backfill, "apply_snapshots", third_batch_fails)
    with pytest.raises(RuntimeError, match="refused"):
        backfill.apply_result(session_scope, backfill_id, lambda skip: iter(rows[skip:]), batch_orders=5)
    with Session(committed_db) as session:
        run = session.get(BulkBackfill, backfill_id)
        assert run is not None
        checkpoint = run.lines_applied
    assert [gid for _, gid in ((c, n["id"]) for c, n in backfill.assemble_orders(rows[:checkpoint]))] == orders[:10]
    assert orders[10] not in _gids(committed_db)  # the failed batch left nothing
    monkeypatch.setattr(backfill, "apply_snapshots", real_apply)
    applied = backfill.apply_result(session_scope, backfill_id, lambda skip: iter(rows[skip:]), batch_orders=5)
    assert applied == 30  # batches 3-8: the checkpoint sat at the end of batch 2
    assert _orders(committed_db) == 40


@pytest.mark.postgres
def test_a_batch_the_database_aborts_for_a_deadlock_is_applied_again_and_the_backfill_completes(
    shop_id: int, client: ShopifyClient, committed_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhooks merging the same orders meanwhile can deadlock with a batch; PostgreSQL then aborts one of
    the two. The batch is run again, whole: the command does not fail, and nothing is counted twice."""
    backfill_id, url = _exported(shop_id, client)
    rows = list(backfill.stream_lines(url))
    orders = [node["id"] for _, node in backfill.assemble_orders(rows)]
    real_apply = backfill.apply_snapshots
    aborted: list[str] = []

    def third_batch_deadlocks_once(session: Session, shop: int, batch: list[ShopifyOrder]) -> ApplyResult:
        result = real_apply(session, shop, batch)
        if not aborted and any(snapshot.gid == orders[10] for snapshot in batch):
            aborted.append(orders[10])  # written, then aborted as the server aborts one of two deadlocked
            abort_as(session, "40P01")
        return result

    monkeypatch.setattr(backfill, "apply_snapshots", third_batch_deadlocks_once)
    applied = backfill.apply_result(session_scope, backfill_id, lambda skip: iter(rows[skip:]), batch_orders=5)
    assert aborted
    assert applied == 40
    assert _orders(committed_db) == 40
    with Session(committed_db) as session:
        run = session.get(BulkBackfill, backfill_id)
        assert run is not None
        assert (run.status, run.orders_applied, run.lines_applied) == ("completed", 40, len(rows))


def test_an_order_with_more_lines_than_a_page_is_mirrored_whole(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox
) -> None:
    big = sandbox.control.create_order(status="paid", line_items=12)
    reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(minutes=5))
    with Session(committed_db) as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == big)).one()
        assert len(order.line_items) == 12 == len(sandbox.control.snapshot(big)["line_items"])


def test_subscribing_twice_creates_each_topic_once(client: ShopifyClient, sandbox: ShopifySandbox) -> None:
    from worker.mirror.subscriptions import TOPICS, subscribe_all

    first = subscribe_all(client, "https://dropsync.example.com/webhooks/shopify")
    second = subscribe_all(client, "https://dropsync.example.com/webhooks/shopify")
    assert [s.topic for s in first if s.created] == list(TOPICS)
    assert not any(s.created for s in second)
    listed = client.execute("WebhookSubscriptions", {"first": 100})["webhookSubscriptions"]["nodes"]
    assert sorted(n["topic"] for n in listed) == sorted(TOPICS)


def _run_in_parts(shop_id: int, client: ShopifyClient, parts: int = 4) -> int:
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        return backfill.start_run(session, shop, client, since=None, parts=parts).id


def test_a_large_shop_is_exported_in_parts_that_cover_every_order_once(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(backfill, "SPLIT_AT", 10)  # 40 orders count as a large shop here
    lead_id = _run_in_parts(shop_id, client)
    seen: list[tuple[int, int]] = []
    applied = backfill.run(session_scope, lead_id, client, poll_seconds=0.02, batch_orders=4,
                           on_part=lambda number, total: seen.append((number, total)))  # fmt: skip
    assert applied == 40 == _orders(committed_db)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with Session(committed_db) as session:
        parts = backfill.parts_of(session, lead_id)
        assert [(p.part, p.parts, p.status) for p in parts] == [(n, 4, "completed") for n in (1, 2, 3, 4)]
        assert len({p.bulk_operation_gid for p in parts}) == 4  # one bulk operation each
        # Windows: contiguous, open at both ends, the first the smallest, the last smaller than the middle
        # (what is left to apply once the export has ended).
        assert parts[0].created_from is None
        assert parts[-1].created_before is None
        assert all(a.created_before == b.created_from for a, b in itertools.pairwise(parts))
        assert all(p.orders_applied > 0 for p in parts)
        assert parts[0].orders_applied == min(p.orders_applied for p in parts)
        assert parts[-1].orders_applied < max(p.orders_applied for p in parts) / 2
        assert sum(p.orders_applied for p in parts) == 40  # no order in two parts
        shop = session.get(Shop, shop_id)
        assert shop is not None
        assert shop.orders_watermark == parts[0].created_at  # the run's start, once every part is in


def test_a_large_shop_s_parts_start_and_end_small() -> None:
    shares = backfill.spans(backfill.PARTS)
    whole = sum(shares)
    assert len(shares) == backfill.PARTS == 10
    assert shares[0] / whole < 0.03  # the apply starts after ~2.6 % of the export
    growing = shares[: shares.index(1.0) + 1]  # then each part up to a middle one at most 1.5x the one before
    assert len(growing) == 6
    assert all(b <= a * backfill.GROWTH for a, b in itertools.pairwise(growing))
    assert shares[-1] / whole < 0.05  # and ends ~4 % of the orders after it
    assert max(shares) / whole < 0.2
    assert backfill.spans(1) == [1.0]
    assert len(backfill.spans(2)) == 2


def test_a_small_shop_is_one_export(shop_id: int, client: ShopifyClient, committed_db: Engine) -> None:
    lead_id = _run_in_parts(shop_id, client)  # 40 orders, below SPLIT_AT
    assert backfill.run(session_scope, lead_id, client, poll_seconds=0.02) == 40
    with Session(committed_db) as session:
        assert [(p.part, p.parts, p.created_from, p.created_before) for p in backfill.parts_of(session, lead_id)] == [
            (1, 1, None, None)
        ]


def test_a_run_stopped_between_parts_resumes_where_it_stopped_and_moves_the_watermark_last(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(backfill, "SPLIT_AT", 10)
    lead_id = _run_in_parts(shop_id, client)
    real_apply = backfill.apply_result
    calls: list[int] = []

    def third_part_cut_off(*args: object, **kwargs: object) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("download cut off")
        return real_apply(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(backfill, "apply_result", third_part_cut_off)
    with pytest.raises(ConnectionError):
        backfill.run(session_scope, lead_id, client, poll_seconds=0.02)
    with Session(committed_db) as session:
        parts = backfill.parts_of(session, lead_id)
        assert [p.status for p in parts[:2]] == ["completed", "completed"]
        assert parts[2].status != "completed"
        first_two = parts[0].orders_applied + parts[1].orders_applied
        shop = session.get(Shop, shop_id)
        assert shop is not None
        assert shop.orders_watermark is None
    assert _orders(committed_db) == first_two
    created = [sandbox.control.create_order(status="paid") for _ in range(2)]  # while the run is stopped
    monkeypatch.setattr(backfill, "apply_result", real_apply)
    resumed = backfill.run(session_scope, parts[2].id, client, poll_seconds=0.02)  # any part's id resumes the run
    assert first_two + resumed == 40 == _orders(committed_db)  # the exports are snapshots, as one export is
    with Session(committed_db) as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        assert shop.orders_watermark == parts[0].created_at
    # Reconciliation goes on from when the run began: what changed since is read there.
    reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(0))
    assert set(created) <= _gids(committed_db)
    assert _orders(committed_db) == 42


def test_a_failed_part_is_exported_again_on_resume(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(backfill, "SPLIT_AT", 10)
    lead_id = _run_in_parts(shop_id, client, parts=2)
    with session_scope() as session:
        second = backfill.parts_of(session, lead_id)[1]
        second.bulk_operation_gid, second.status = "gid://shopify/BulkOperation/1", "failed"  # an earlier try
    applied = backfill.run(session_scope, lead_id, client, poll_seconds=0.02)
    assert applied == 40 == _orders(committed_db)
    with Session(committed_db) as session:
        again = backfill.parts_of(session, lead_id)[1]
        assert again.status == "completed"
        assert again.bulk_operation_gid != "gid://shopify/BulkOperation/1"


def test_an_export_that_fails_is_recorded_failed_and_exported_again_by_the_next_run(
    shop_id: int, client: ShopifyClient, committed_db: Engine, sandbox: ShopifySandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Shopify ends the second part's export FAILED (the sandbox's ``export_failed`` fault). The run stops
    there with the first part applied, and the part is recorded failed, committed: the next run exports it
    again instead of polling the dead operation for ever."""
    monkeypatch.setattr(backfill, "SPLIT_AT", 10)
    lead_id = _run_in_parts(shop_id, client, parts=2)  # the first part's export is already running
    sandbox.control.fail_next(kind="export_failed", field="bulkOperationRunQuery")  # the second part's
    with pytest.raises(backfill.BackfillFailed, match="bulk operation failed: INTERNAL_SERVER_ERROR"):
        backfill.run(session_scope, lead_id, client, poll_seconds=0.02)
    with Session(committed_db) as session:
        first, second = backfill.parts_of(session, lead_id)
        assert (first.status, second.status, second.error) == ("completed", "failed", "INTERNAL_SERVER_ERROR")
        kept, dead = first.orders_applied, second.bulk_operation_gid
    assert 0 < kept == _orders(committed_db) < 40
    assert backfill.run(session_scope, lead_id, client, poll_seconds=0.02) == 40 - kept
    assert _orders(committed_db) == 40
    with Session(committed_db) as session:
        again = backfill.parts_of(session, lead_id)[1]
        assert (again.status, again.error) == ("completed", None)
        assert again.bulk_operation_gid != dead


def _order_tags(engine: Engine, gid: str) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Order.tags).where(Order.shopify_gid == gid)).one())


def _deliver_and_drain(sandbox: ShopifySandbox, shop_id: int, gid: str) -> None:
    """The order's ``orders/updated`` webhook, as the sandbox has the order now, stored and drained."""
    order = sandbox.state.get_by_id(sandbox.control.order_id(gid))
    assert order is not None
    body = orjson.dumps(order_json(sandbox.state, order)).decode()
    with session_scope() as session:
        store_deliveries(session, [IncomingDelivery(shop_id, str(uuid.uuid4()), "orders/updated", body)])
    inbox.drain(session_scope)


def _tie(sandbox: ShopifySandbox, shop_id: int, read: Callable[[str], object]) -> str:
    """Two edits of ``#1003`` in one second, the ledger reading the first by GraphQL between them (``read``);
    the second's webhook drained (the re-read it queues goes to the test's publisher). Returns the gid."""
    gid = sandbox.control.snapshot("#1003")["id"]
    for _ in range(5):  # the read must fit between two edits of one second: tried again when it did not
        while dt.datetime.now(dt.UTC).microsecond > 200_000:
            time.sleep(0.01)
        first = sandbox.control.touch_order(gid, tags=["first"])
        read(gid)
        second = sandbox.control.touch_order(gid, tags=["second"])
        if first[:19] == second[:19]:
            break
        time.sleep(1.5)
    assert first[:19] == second[:19], "the two edits must share a second for this test to mean anything"
    _deliver_and_drain(sandbox, shop_id, gid)
    return gid


def test_a_webhook_tied_within_a_second_with_the_read_version_is_settled_by_a_re_read(
    shop_id: int, client: ShopifyClient, sandbox: ShopifySandbox, committed_db: Engine, published: Published
) -> None:
    """Two edits in one second: the ledger read the first by GraphQL; the second's webhook carries the same
    updated_at (REST gives seconds), so it cannot be told newer. The drain leaves it undecided and queues a
    re-read of the order, which brings the second edit — without waiting for the next reconciliation."""
    gid = _tie(sandbox, shop_id, lambda gid: reconcile.refresh_orders(session_scope, shop_id, client, [gid]))
    assert _order_tags(committed_db, gid) == ["first"], "not written over the version of the same second"
    assert published.take() == [("mirror.refresh_orders", [shop_id, [gid]])]

    reconcile.refresh_orders(session_scope, shop_id, client, [gid])  # what the queued task runs
    assert _order_tags(committed_db, gid) == ["second"]


def test_an_exported_version_written_over_a_webhook_s_of_its_second_has_the_order_re_read(
    shop_id: int, client: ShopifyClient, sandbox: ShopifySandbox, committed_db: Engine, published: Published
) -> None:
    """The export read an order in the second its webhook also carries (the merchant edited it then): the
    exported version replaces the webhook's, as it carries more, but may be the older. The batch queues a
    re-read of that order, in its own transaction; the orders without a tie are not re-read."""
    backfill_id, url = _exported(shop_id, client)
    gid = sandbox.control.snapshot("#1003")["id"]
    _deliver_and_drain(sandbox, shop_id, gid)  # the same version the export holds
    assert published.take() == []
    backfill.apply_result(session_scope, backfill_id, lambda skip: backfill.stream_lines(url, skip), batch_orders=7)
    assert published.take() == [("mirror.refresh_orders", [shop_id, [gid]])]
    assert _orders(committed_db) == 40


def test_a_tied_webhook_whose_re_read_is_lost_is_settled_by_the_next_reconciliation(
    shop_id: int, client: ShopifyClient, sandbox: ShopifySandbox, committed_db: Engine, published: Published
) -> None:
    """The re-read is a task message: a worker killed while running it, or Shopify down for all its tries,
    loses it. The next reconciliation (the beat's, with the default overlap) still reads the order, and its
    version of the same second replaces the ledger's: the sweep starts before the tie's second, since the
    sweep that read the order tied moved the watermark to that second and the others after it are newer."""
    overlap = dt.timedelta(seconds=get_settings().reconcile_overlap_seconds)
    reconcile.reconcile_shop(session_scope, shop_id, client, overlap)
    gid = _tie(sandbox, shop_id, lambda _: reconcile.reconcile_shop(session_scope, shop_id, client, overlap))
    assert published.take() == [("mirror.refresh_orders", [shop_id, [gid]])]  # and never run
    for _ in range(3):  # the merchant keeps selling: newer orders move the watermark on
        sandbox.control.create_order(status="paid")
    assert _order_tags(committed_db, gid) == ["first"]
    reconcile.reconcile_shop(session_scope, shop_id, client, overlap)
    assert _order_tags(committed_db, gid) == ["second"]


def test_an_order_refunded_many_times_is_read_whole_with_its_money(
    shop_id: int, client: ShopifyClient, sandbox: ShopifySandbox, committed_db: Engine
) -> None:
    """``Order.refunds`` and ``Order.transactions`` are plain lists: ``first`` only truncates them, and a list
    costs one object whatever its length. An order refunded eleven times, its webhooks lost, read by the
    ledger (a re-read, as reconciliation reads it): every refund and every refund's money is in the ledger,
    not the first five refunds and ten transactions."""
    gid = sandbox.control.create_order(status="paid", line_items=12)
    refund_lines(client, gid, 11)
    reconcile.refresh_orders(session_scope, shop_id, client, [gid])
    with Session(committed_db) as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
        refunds = session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id))
        transactions = session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.order_id == order.id)
        )
        refunded = session.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.order_id == order.id, LedgerEntry.kind == "customer_refund"
            )
        )
    assert (refunds, transactions) == (11, 12)  # one sale, eleven refunds
    assert refunded == Decimal("11.00")  # entries carry positive amounts; the kind says which way
    assert order.total_refunded == Decimal("11.00")


def test_a_refund_of_many_lines_is_read_whole(
    shop_id: int, client: ShopifyClient, sandbox: ShopifySandbox, committed_db: Engine
) -> None:
    """One refund of all twelve lines of an order, read by the ledger: the refund's twelve lines, past
    ``OrderFields``' first page of ten (``RefundLineItemsPage``), and its 12.00."""
    gid = sandbox.control.create_order(status="paid", line_items=12)
    refund_lines(client, gid, 12, together=True)
    reconcile.refresh_orders(session_scope, shop_id, client, [gid])
    with Session(committed_db) as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
        (refund,) = session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        lines = {entry["line_item_gid"] for entry in refund.refund_line_items}
        assert len(refund.refund_line_items) == 12
        assert lines == {li.shopify_gid for li in order.line_items}
        assert refund.total_refunded == order.total_refunded == Decimal("12.00")
