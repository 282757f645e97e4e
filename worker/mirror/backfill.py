"""Bulk backfill: export every order with a bulk operation, stream the JSONL, apply in batches.

Memory stays flat whatever the shop's size: the file is streamed line by line, one order (with its
children) is assembled at a time, and batches are applied and committed as they fill. Each commit also
stores ``lines_applied``, the checkpoint a resumed run skips to, so a crash costs at most one batch.

A shop of ``SPLIT_AT`` orders or more is exported in ``PARTS`` parts by creation time (``start_run``):
each part is its own bulk operation and checkpoint, and ``run`` applies a part while Shopify exports the
next ones (one export at a time, well inside the 5 concurrent bulk queries a shop allows since 2026-01).
A single export of the whole shop leaves the ledger idle until its last row is written; in parts, the
apply starts after the first part's export and the rest of the export overlaps it. The run is complete,
and reconciliation continues from when it began, once every part is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, Queue
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrations.shopify import documents
from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import raise_for_user_errors
from integrations.shopify.order import ShopifyOrder
from models import BulkBackfill, Shop
from models.types import utcnow
from worker.db import UnitOfWork
from worker.db.transient import run_transaction
from worker.errors import DropsyncError, NotFoundError
from worker.mirror.apply import apply_snapshots, queue_re_reads
from worker.mirror.collector import between_batches, few_collections
from worker.mirror.reconcile import search_query, search_time
from worker.mirror.snapshot import from_graphql
from worker.mirror.statistics import analyze

log = structlog.get_logger(__name__)

BATCH_ORDERS = 500
#: Batches applied at once on PostgreSQL (each its own transaction and connection). With two, the two
#: waited on the server at the same time while the process had nothing to run: 100k orders, interleaved,
#: three and two: 27.6, 30.3, 27.5 s against 29.8, 34.8, 28.5 s (peak RSS 195-201 against 184-188 MB).
APPLIERS = 3
TERMINAL = frozenset({"completed", "failed", "canceled", "cancelled", "expired"})
#: A backfill reading at least this many orders is split (``ordersCount``'s default limit: exact below it).
SPLIT_AT = 10_000
#: Parts of a split backfill, by creation time; the first part's export is all the apply waits for.
PARTS = 10
#: The first part's span of time against a middle part's: small, the apply starts soon.
FIRST_SPAN = 0.15
#: Each of the first parts spans this much more than the one before, up to a middle part's: about what
#: the export runs ahead of the apply (beside it on two cores, 100k exported in ~19.5 s and applied in
#: ~25 s), so each is exported by the time the one before it is applied.
GROWTH = 1.5
#: The last parts' spans against a middle part's: small, what is left to apply once the export has ended.
LAST_SPANS = (0.5, 0.25)

#: A part's creation-time window: ``[created_from, created_before)``, None for an open end.
Window = tuple[dt.datetime | None, dt.datetime | None]


class BackfillFailed(DropsyncError):
    """The bulk operation ended without a result file (failed, canceled, expired)."""


def orders_filter(since: dt.datetime | None, window: Window = (None, None)) -> str | None:
    """The ``orders(query:)`` search of a backfill (part): updated since ``since``, created in ``window``."""
    created_from, created_before = window
    terms = [search_query(since)] if since is not None else []
    if created_from is not None:
        terms.append(f"created_at:>='{search_time(created_from)}'")
    if created_before is not None:
        terms.append(f"created_at:<'{search_time(created_before)}'")
    return " ".join(terms) or None


def bulk_query(since: dt.datetime | None, window: Window = (None, None)) -> str:
    text = documents.read_file("BulkOrdersQuery")
    search = orders_filter(since, window)
    if search is not None:
        text = text.replace("orders(sortKey: UPDATED_AT)", f'orders(sortKey: UPDATED_AT, query: "{search}")')
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def start(session: Session, shop: Shop, client: ShopifyClient, since: dt.datetime | None) -> BulkBackfill:
    """Ask Shopify for the export (flushes; the caller commits so the operation id is never lost)."""
    backfill = BulkBackfill(shop_id=shop.id, since=since, status="created")
    session.add(backfill)
    _submit(session, backfill, client)
    return backfill


def _submit(session: Session, backfill: BulkBackfill, client: ShopifyClient) -> None:
    """Start (or start again, after a failed export) this part's bulk operation; flushes."""
    query = bulk_query(backfill.since, (backfill.created_from, backfill.created_before))
    payload = client.execute("BulkOperationRunQuery", {"query": query})["bulkOperationRunQuery"]
    raise_for_user_errors(payload, operation="bulkOperationRunQuery")
    backfill.bulk_operation_gid, backfill.status = payload["bulkOperation"]["id"], "running"
    backfill.lines_applied, backfill.error, backfill.result_url = 0, None, None  # a new file: from its start
    session.flush()


def plan(client: ShopifyClient, since: dt.datetime | None, parts: int = PARTS) -> list[Window]:
    """The creation-time windows a backfill is exported in.

    One window when it reads fewer than ``SPLIT_AT`` orders. Else ``parts`` spans of the time from the
    oldest order's creation to the newest's (``spans``), the first and the last ones small. The exports
    follow one another without a pause while each part is applied as soon as it is exported, so the run
    lasts about its export plus the apply of what is exported last: the smaller the last part, the
    sooner it ends. The first window has no lower bound and the last no upper one, so an order created at
    any time, during the run included, falls in exactly one.
    """
    data = client.execute("BackfillPlan", {"query": orders_filter(since)})
    count, oldest, newest = data["ordersCount"], data["oldest"]["nodes"], data["newest"]["nodes"]
    if parts <= 1 or not oldest or (count["precision"] == "EXACT" and int(count["count"]) < SPLIT_AT):
        return [(None, None)]
    first, last = (dt.datetime.fromisoformat(str(n[0]["createdAt"]).replace("Z", "+00:00")) for n in (oldest, newest))
    weights = list(itertools.accumulate(spans(parts)))
    ends = [first + (last - first) * (weight / weights[-1]) for weight in weights[:-1]]
    edges = sorted({end.replace(microsecond=0) for end in ends})
    edges = [edge for edge in edges if first < edge <= last]  # whole seconds, as Shopify's search compares
    bounds: list[dt.datetime | None] = [None, *edges, None]
    return list(itertools.pairwise(bounds))


def spans(parts: int) -> list[float]:
    """Each part's share of the time span, relative: with 10 parts, 2.6 % of it first, then 3.9, 5.9, 8.8 and
    13.3 % (each ``GROWTH`` times the one before), 17.5 % for each of the three middle parts, then 8.7 %
    and 4.4 %.

    Exported while the one before it is applied, a part is ready when its turn comes if the export keeps
    up with the apply; if it does not (a shop Shopify exports slowly), the apply waits for each part
    anyway, and only the last one is left once the export ends. Growing parts all the way (each 1.5x the
    one before) left the last 35 % of a 100k backfill to apply alone, 21 s of an 83 s run; a first part
    followed at once by middle ones left the apply waiting for the second part's export (~2 s of a 30 s
    run with one core idle): 100k orders, interleaved, a ramp of 0.15, 0.22, 0.35, 0.55, 0.85 before the middle
    parts took 28.8, 28.9, 27.6 s against 29.8, 34.8, 28.5 s.
    """
    if parts <= 1:
        return [1.0]
    shares = [1.0] * parts
    if parts > len(LAST_SPANS) + 1:
        shares[-len(LAST_SPANS) :] = LAST_SPANS
    # the growing first parts, leaving at least one middle part (and the last ones) as they are
    first = FIRST_SPAN
    for position in range(max(1, parts - len(LAST_SPANS) - 1)):
        if first >= 1.0:
            break
        shares[position], first = first, first * GROWTH
    return shares


def start_run(
    session: Session, shop: Shop, client: ShopifyClient, since: dt.datetime | None, *, parts: int = PARTS
) -> BulkBackfill:
    """Plan the run, record every part and start the first part's export; returns the leading part
    (flushes; the caller commits). ``run`` exports the other parts while it applies."""
    windows = plan(client, since, parts)
    lead = BulkBackfill(shop_id=shop.id, since=since, status="created", part=1, parts=len(windows))
    lead.created_from, lead.created_before = windows[0]
    session.add(lead)
    session.flush()
    for number, (created_from, created_before) in enumerate(windows[1:], start=2):
        session.add(BulkBackfill(
            shop_id=shop.id, since=since, status="created", part_of_id=lead.id, part=number, parts=len(windows),
            created_from=created_from, created_before=created_before,
        ))  # fmt: skip
    _submit(session, lead, client)
    return lead


def parts_of(session: Session, backfill_id: int) -> list[BulkBackfill]:
    """Every part of the run ``backfill_id`` leads or belongs to, in order."""
    backfill = _backfill(session, backfill_id)
    lead_id = backfill.part_of_id or backfill.id
    query = select(BulkBackfill).where(or_(BulkBackfill.id == lead_id, BulkBackfill.part_of_id == lead_id))
    return list(session.scalars(query.order_by(BulkBackfill.part)))


def run(
    unit_of_work: UnitOfWork, backfill_id: int, client: ShopifyClient, *, poll_seconds: float = 0.25,
    batch_orders: int = BATCH_ORDERS, on_part: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:  # fmt: skip
    """Export and apply every unfinished part of a run, in order; returns the orders applied.

    An exporter thread submits each part's bulk operation once the one before it is exported and hands
    over its result URL; this thread applies the parts as they come. A failed part stops the run at that
    part (the ones before it are applied and kept); ``run`` again, or ``--resume``, exports it again.
    """
    with unit_of_work() as session:
        parts = parts_of(session, backfill_id)
        pending = [(p.id, p.part, p.parts) for p in parts if p.status != "completed"]
        applied_before = sum(p.orders_applied for p in parts)
    ready: Queue[Any] = Queue()
    stop = threading.Event()

    def export() -> None:
        try:
            for part_id, number, total in pending:
                url = _exported(unit_of_work, part_id, client, poll_seconds, stop)
                log.info("backfill part exported", backfill_id=part_id, part=f"{number}/{total}")
                ready.put((part_id, url))
        except BaseException as exc:  # handed to the applying thread, which raises it
            ready.put(exc)

    exporter = threading.Thread(target=export, name="backfill-export", daemon=True)
    exporter.start()
    applied = 0
    # One collection window for the whole run: each part's own would freeze the garbage the last one left.
    try:
        with few_collections():
            for part_id, number, total in pending:
                item = ready.get()
                if isinstance(item, BaseException):
                    raise item
                url = item[1]
                if on_part:
                    on_part(number, total)
                done = applied

                def progress(count: int, position: int, done: int = done) -> None:
                    if on_batch:
                        on_batch(done + count, position)

                applied += apply_result(
                    unit_of_work, part_id, _lines_of(url),
                    batch_orders=batch_orders, on_batch=progress, analyze_from=applied_before + applied,
                )  # fmt: skip
                log.info("backfill part applied", backfill_id=part_id, part=f"{number}/{total}", orders=applied - done)
    finally:
        stop.set()
        exporter.join(timeout=poll_seconds + 5)
    return applied


def _lines_of(url: str) -> Callable[[int], Iterable[bytes]]:
    """The result file's rows from a checkpoint on (an export with no objects has no file)."""
    return lambda skip: stream_lines(url, skip) if url else iter(())


def _exported(
    unit_of_work: UnitOfWork, part_id: int, client: ShopifyClient, poll_seconds: float, stop: threading.Event
) -> str:
    """Submit the part's export if it has none running (or the last one failed), then wait for its URL."""
    with unit_of_work() as session:
        part = _backfill(session, part_id)
        if part.bulk_operation_gid is None or part.status in TERMINAL - {"completed"}:
            _submit(session, part, client)
    return wait_for_result(unit_of_work, part_id, client, poll_seconds=poll_seconds, stop=stop)


def wait_for_result(
    unit_of_work: UnitOfWork, backfill_id: int, client: ShopifyClient, *, poll_seconds: float = 1.0,
    timeout: float = 3600.0, on_poll: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> str:  # fmt: skip
    """The result URL, once the operation completes (the finish webhook may already have said so)."""
    deadline = time.monotonic() + timeout
    stop = stop or threading.Event()
    with unit_of_work() as session:
        gid = _backfill(session, backfill_id).bulk_operation_gid  # fixed while it runs: read once, not per poll
    while time.monotonic() < deadline and not stop.is_set():
        operation = client.execute("BulkOperationById", {"id": gid})["bulkOperation"]
        if on_poll:
            on_poll(operation)
        status = str(operation["status"]).lower()
        if status in TERMINAL:
            return _finish_polling(unit_of_work, backfill_id, operation, status)
        stop.wait(poll_seconds)
    if stop.is_set():
        raise BackfillFailed("stopped while waiting for the bulk operation")
    raise BackfillFailed(f"bulk operation still running after {timeout:.0f} s")


def _finish_polling(unit_of_work: UnitOfWork, backfill_id: int, operation: dict[str, Any], status: str) -> str:
    """Record how the part's export ended. A failed one is recorded (committed) before it is raised: the
    next run or ``--resume`` sees the part failed and exports it again, instead of polling the dead one."""
    with unit_of_work() as session:
        backfill = _backfill(session, backfill_id)
        backfill.object_count = int(operation.get("objectCount") or 0)
        if status == "completed":
            backfill.status, backfill.result_url = "downloading", operation.get("url")
        else:
            backfill.status, backfill.error = status, operation.get("errorCode")
    if status != "completed":
        raise BackfillFailed(f"bulk operation {status}: {operation.get('errorCode') or 'no error code'}")
    if not operation.get("url"):
        return ""  # completed with no objects
    return str(operation["url"])


def stream_lines(url: str, skip: int = 0, timeout: float = 60.0) -> Iterator[bytes]:
    """The file's rows as bytes, from row ``skip`` on (split on bytes: no decoding of 60+ MB)."""
    number = 0
    with httpx.stream("GET", url, timeout=timeout) as response:
        response.raise_for_status()
        pending = b""
        for chunk in response.iter_bytes(chunk_size=1 << 20):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line:
                    continue  # blank lines are not rows; the checkpoint counts rows
                if number >= skip:
                    yield line
                number += 1
        if pending and number >= skip:
            yield pending


def assemble_orders(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Fold JSONL rows into order nodes shaped like ``OrderFields``: (rows consumed so far, order).

    Bulk output lists each object after its parent and nested connection nodes as separate rows with
    ``__parentId``; Shopify writes an order's rows together, so one order is held at a time.
    """
    current: dict[str, Any] | None = None
    refunds: dict[str, dict[str, Any]] = {}
    consumed = 0
    for line in lines:
        row = orjson.loads(line)
        parent = row.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield consumed, current
            current, refunds, consumed = _order_node(row), {}, consumed + 1
            refunds = {r["id"]: r for r in current["refunds"]}
            continue
        consumed += 1
        if current is None:
            continue
        _attach(current, refunds, parent, row)
    if current is not None:
        yield consumed, current


def _order_node(row: dict[str, Any]) -> dict[str, Any]:
    row["lineItems"] = {"nodes": []}
    row["fulfillmentOrders"] = {"nodes": []}
    for refund in row.get("refunds") or []:
        refund["refundLineItems"] = {"nodes": []}
    row.setdefault("refunds", [])
    return row


def _attach(order: dict[str, Any], refunds: dict[str, dict[str, Any]], parent: str, row: dict[str, Any]) -> None:
    kind = str(row.get("id", "")).split("/")[3] if str(row.get("id", "")).startswith("gid://") else ""
    if parent in refunds:
        refunds[parent]["refundLineItems"]["nodes"].append(row)
    elif kind == "FulfillmentOrder":
        order["fulfillmentOrders"]["nodes"].append(row)
    elif kind == "LineItem":
        order["lineItems"]["nodes"].append(row)


def apply_result(
    unit_of_work: UnitOfWork, backfill_id: int, lines: Callable[[int], Iterable[bytes]],
    *, batch_orders: int = BATCH_ORDERS, on_batch: Callable[[int, int], None] | None = None, analyze_from: int = 0,
) -> int:  # fmt: skip
    """Apply the export from the checkpoint on; returns orders applied in this run.

    Downloading and parsing run in a reader thread, at most one batch ahead (memory stays flat). On
    PostgreSQL ``APPLIERS`` batches are applied at once, each in its own transaction: while the server
    merges one, Python builds another (one applier left the process waiting on the server ~40 % of the
    time).
    ``analyze_from``: orders the run applied before (earlier parts): statistics are refreshed each time
    the run's total doubles, not each part's.
    """
    with unit_of_work() as session:
        backfill = _backfill(session, backfill_id)
        shop_id, skip = backfill.shop_id, backfill.lines_applied
        parallel = APPLIERS if session.get_bind().dialect.name == "postgresql" else 1
    appliers = _Appliers(unit_of_work, backfill_id, shop_id, skip, parallel, batch_orders, on_batch, analyze_from)
    with few_collections():
        try:
            for batch, consumed in _prefetched_batches(lines(skip), batch_orders):
                appliers.submit(batch, skip + consumed)
            appliers.finish()
        except BaseException:
            appliers.abandon()
            raise
    _commit_batch(unit_of_work, backfill_id, shop_id, [], appliers.position, final=True)
    return appliers.applied


class _Appliers:
    """Batches applied by ``parallel`` threads, settled in file order.

    The checkpoint a batch's transaction writes is the end of the batches settled before it was sent, so
    it can lag but never lead: after a hard crash at most ``parallel`` batches are applied again, which the
    monotonic upserts make harmless. Once a batch fails, no later one moves the checkpoint (it may have
    committed, and is applied again on resume); ``abandon`` then records the checkpoint reached.
    """

    def __init__(
        self, unit_of_work: UnitOfWork, backfill_id: int, shop_id: int, position: int, parallel: int,
        batch_orders: int, on_batch: Callable[[int, int], None] | None, analyze_from: int = 0,
    ) -> None:  # fmt: skip
        self._unit_of_work, self._backfill_id, self._shop_id = unit_of_work, backfill_id, shop_id
        self._parallel, self._on_batch, self._analyze_at = parallel, on_batch, batch_orders
        self._before = analyze_from
        while self._analyze_at <= analyze_from:
            self._analyze_at *= 2
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="backfill-apply")
        self._in_flight: deque[tuple[Future[int], int]] = deque()
        self.position, self.applied, self._broken = position, 0, False

    def submit(self, batch: list[ShopifyOrder], end: int) -> None:
        if len(self._in_flight) >= self._parallel:
            self._settle_oldest()
        args = (self._unit_of_work, self._backfill_id, self._shop_id, batch, self.position)
        self._in_flight.append((self._pool.submit(_commit_batch, *args), end))

    def finish(self) -> None:
        while self._in_flight:
            self._settle_oldest()
        self._pool.shutdown()

    def abandon(self) -> None:
        """Wait for the batches in flight; keep the checkpoint of those committed in order, then record it."""
        while self._in_flight:
            try:
                self._settle_oldest()
            except Exception:
                log.warning("a backfill batch failed while stopping", exc_info=True)
        self._pool.shutdown(wait=True)
        with self._unit_of_work() as session:
            _move_checkpoint(session, self._backfill_id, self.position)

    def _settle_oldest(self) -> None:
        future, end = self._in_flight.popleft()
        try:
            applied = future.result()
        except BaseException:
            self._broken = True
            raise
        self.applied += applied
        between_batches()
        if self._broken:
            return  # committed, but behind a batch that was not: the checkpoint stays before that one
        self.position = end
        if self._before + self.applied >= self._analyze_at:
            _refresh_statistics(self._unit_of_work)
            self._analyze_at *= 2
        if self._on_batch:
            self._on_batch(self.applied, self.position)


_DONE = object()


def _batches(lines: Iterable[bytes], size: int) -> Iterator[tuple[list[ShopifyOrder], int]]:
    batch: list[ShopifyOrder] = []
    consumed = 0
    for consumed, node in assemble_orders(lines):
        # the node kept as JSON: freed here, by the thread that parsed it, while the batch waits (100k, two
        # interleaved pairs: 1.1 and 3.4 s less of the process's CPU, 15-17 MB less at its peak with one
        # malloc arena)
        batch.append(from_graphql(node, source="backfill", serialized_raw=True))
        if len(batch) >= size:
            yield batch, consumed
            batch = []
    if batch:
        yield batch, consumed


def _prefetched_batches(lines: Iterable[bytes], size: int, depth: int = 1) -> Iterator[tuple[list[ShopifyOrder], int]]:
    """``_batches`` produced by a reader thread; its exceptions are re-raised here, in order."""
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in _batches(lines, size):
                if stop.is_set():
                    return
                queue.put(item)
            queue.put(_DONE)
        except BaseException as exc:  # handed to the applying thread, which raises it
            queue.put(exc)

    reader = threading.Thread(target=read, name="backfill-reader", daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, then let it finish
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)


def _commit_batch(
    unit_of_work: UnitOfWork, backfill_id: int, shop_id: int, batch: list[ShopifyOrder], checkpoint: int,
    final: bool = False,
) -> int:  # fmt: skip
    """Apply one batch and move the checkpoint (to ``checkpoint``, if further) in the same transaction.

    Webhooks for the same orders are merged meanwhile (the merchant keeps selling and editing): their
    transactions and this one lock some of the same rows in different orders, and PostgreSQL may abort
    this one to break the deadlock. It is then run again (``run_transaction``), not reported as a failed
    backfill: the rollback undid all of it, and the upserts decide by version whoever commits first."""

    def apply(session: Session) -> int:
        if batch:
            queue_re_reads(session, shop_id, apply_snapshots(session, shop_id, batch))
        backfill = _move_checkpoint(session, backfill_id, checkpoint)
        backfill.orders_applied += len(batch)
        if final:
            _complete(session, backfill)
        return len(batch)

    return run_transaction(unit_of_work, apply, what="backfill batch")


def _move_checkpoint(session: Session, backfill_id: int, checkpoint: int) -> BulkBackfill:
    # Locked last in the transaction: concurrent batches serialise only on this row, for one commit.
    backfill = session.get(BulkBackfill, backfill_id, with_for_update=True)
    if backfill is None:
        raise NotFoundError(f"unknown backfill {backfill_id}")
    backfill.lines_applied = max(backfill.lines_applied, checkpoint)
    return backfill


#: The statistics target of the analyses during a backfill (the server's default is 100).
IN_FLIGHT_STATISTICS = 10

#: Every table a backfill grows: the mirror's and its hooks' (supplier links, their timeline events).
GROWN_TABLES = (
    "orders", "line_items", "fulfillment_orders", "refunds", "transactions", "ledger_entries", "timeline_events",
    "supplier_orders", "supplier_order_items",
)  # fmt: skip


def _refresh_statistics(unit_of_work: UnitOfWork) -> None:
    """``ANALYZE`` the growing tables each time the run has doubled them (about log2(N) times).

    Autovacuum refreshes statistics about once a minute at best; until it does, a table that grew from
    nothing looks empty to the planner, and each batch's lookup of the orders it already holds becomes a
    scan of the whole table: a backfill that slows down as it goes. What these lookups need (how many
    rows, ids unique) shows in a sample of 3,000 rows as well as in the default 30,000, at a tenth of the
    cost (the orders' ANALYZE alone was 2 s of the server's CPU in a 100k backfill); autovacuum analyses
    the grown tables in full once the run has changed a tenth of them since.
    """
    with unit_of_work() as session:
        # the searched columns: sampling the raw JSON cost more than the rest
        analyze(session, GROWN_TABLES, target=IN_FLIGHT_STATISTICS)


def _complete(session: Session, backfill: BulkBackfill) -> None:
    backfill.status, backfill.completed_at = "completed", utcnow()
    lead_id = backfill.part_of_id or backfill.id
    run = [backfill] if backfill.parts == 1 else parts_of(session, lead_id)
    if any(part.status != "completed" for part in run):
        return  # the run is complete, and the watermark moves, with its last part
    began = min(part.created_at for part in run)
    shop = session.get(Shop, backfill.shop_id)
    # Reconciliation continues from when the export began: everything older is in the ledger now.
    if shop is not None and (shop.orders_watermark is None or shop.orders_watermark < began):
        shop.orders_watermark = began


def _backfill(session: Session, backfill_id: int) -> BulkBackfill:
    backfill = session.get(BulkBackfill, backfill_id)
    if backfill is None:
        raise NotFoundError(f"unknown backfill {backfill_id}")
    return backfill
