"""Apply order snapshots to the ledger: monotonic, idempotent, in batches.

Rules:
- ``updatedAt`` is the version. An older snapshot never overwrites a newer one; at an equal version a
  GraphQL snapshot replaces a webhook's (it carries more), never the reverse, and of two webhooks the one
  Shopify triggered later stays. The check runs inside the upsert (``ON CONFLICT … DO UPDATE … WHERE``),
  so two appliers racing on one order serialise on its row and the older loses, whatever the commit
  order. Shopify gives ``updatedAt`` to the second: a GraphQL and a webhook version of one second cannot
  be ordered, so the order is re-read (``ApplyResult.undecided``).
- Children (line items, fulfillment orders, refunds, transactions) are upserted by their Shopify id, never
  deleted and re-created: supplier links point at line item rows.
- Money entries are derived from successful transactions with ``source_ref`` = the transaction's id and
  ``ON CONFLICT DO NOTHING``: re-applying a snapshot, a duplicate webhook or a replay never counts twice.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Table, and_, or_, select
from sqlalchemy.orm import Session

from integrations.shopify.order import REST_UNFULFILLED, ShopifyOrder, ShopifyTransaction
from models import FulfillmentOrder, LedgerEntry, LineItem, Order, Refund, TimelineEvent, Transaction
from models.types import utcnow
from worker import outbox, wiring
from worker.db.bulk import INSERTED, any_of, insert_rows, upsert
from worker.observability.metrics import APPLY_SECONDS, ORDERS_APPLIED

ORDERS: Table = Order.__table__  # type: ignore[assignment]
LINES: Table = LineItem.__table__  # type: ignore[assignment]
FULFILLMENT_ORDERS: Table = FulfillmentOrder.__table__  # type: ignore[assignment]
REFUNDS: Table = Refund.__table__  # type: ignore[assignment]
TRANSACTIONS: Table = Transaction.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]

#: Columns a REST webhook payload does not carry: an upsert from a webhook leaves them as they are.
_NOT_IN_REST = frozenset({"total_received"})
_PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})


@dataclass(frozen=True, slots=True)
class AppliedOrder:
    order_id: int
    gid: str
    snapshot: ShopifyOrder
    previous: dict[str, Any] | None  # the ledger's row before (None: first seen)


@dataclass
class ApplyResult:
    applied: list[AppliedOrder] = field(default_factory=list)
    stale: int = 0
    #: Orders whose version this batch could not place before or after the ledger's: Shopify gives
    #: ``updated_at`` to the second, and the two came from different sources in the same second. A webhook
    #: is then refused (the ledger's GraphQL version carries more); a GraphQL version replaces the webhook's
    #: (same reason), though it may have been read before that webhook's edit. Either way the caller has
    #: the order re-read (``queue_re_reads``) rather than leave it to the next reconciliation.
    undecided: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for a in self.applied if a.previous is None)


#: The task that reads orders from Shopify again (``worker.mirror.tasks.refresh_orders``).
REFRESH_TASK = "mirror.refresh_orders"


def queue_re_reads(session: Session, shop_id: int, result: ApplyResult) -> None:
    """Have the orders ``result`` left undecided read from Shopify now: Shopify's own answer settles which
    version is newer. Through the outbox, in the applying transaction (published once it commits). For
    every caller but the re-read itself, whose version is read after the tie was seen."""
    if result.undecided:
        outbox.enqueue(session, REFRESH_TASK, [shop_id, sorted(result.undecided)])


#: Called inside the applying transaction after each batch (supplier auto-link, intent closing, …).
OrderAppliedHook = Callable[[Session, int, Sequence[AppliedOrder]], None]
_hooks: list[OrderAppliedHook] = []


def on_orders_applied(hook: OrderAppliedHook) -> OrderAppliedHook:
    """Register ``hook`` (once). Called by ``worker.wiring.wire()``, which lists every hook."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


_wired_tables = threading.Lock()
_pulled: list[bool] = []


def _pull_wired_hooks(what: str) -> None:
    """The wired hooks (``worker.wiring.ORDERS_APPLIED``), registered on first use by this dispatcher."""
    wiring.require_wired(what)
    if _pulled:
        return
    with _wired_tables:
        if not _pulled:
            for hook in wiring.reactions(wiring.ORDERS_APPLIED):
                on_orders_applied(hook)
            _pulled.append(True)


def registered_hooks() -> list[OrderAppliedHook]:
    if wiring.is_wired():
        _pull_wired_hooks("registered_hooks")
    return list(_hooks)


def apply_snapshots(session: Session, shop_id: int, snapshots: Iterable[ShopifyOrder]) -> ApplyResult:
    """Apply a batch of snapshots for one shop; flushes, never commits."""
    _pull_wired_hooks("apply_snapshots")
    started = time.perf_counter()
    batch = _newest_per_order(snapshots)
    if not batch:
        return ApplyResult()
    previous = _previous_rows(session, shop_id, [s.gid for s in batch])
    batch = [_keep_finer_fulfillment(s, previous.get(s.gid)) for s in batch]
    ids: dict[str, int] = {}
    inserted: set[int] = set()
    for from_graphql in (True, False):
        group = [s for s in batch if s.from_graphql is from_graphql]
        if group:
            ids.update(_upsert_orders(session, shop_id, group, from_graphql, inserted, previous))
    result = ApplyResult(stale=len(batch) - len(ids), undecided=_undecided(batch, ids, previous))
    result.applied = [AppliedOrder(ids[s.gid], s.gid, s, previous.get(s.gid)) for s in batch if s.gid in ids]
    _upsert_children(session, result.applied, inserted)
    _derive_money(session, shop_id, result.applied, inserted)
    _record_changes(session, shop_id, result.applied)
    for hook in _hooks:
        hook(session, shop_id, result.applied)
    _observe(batch[0].source, result, time.perf_counter() - started)
    return result


def _undecided(batch: list[ShopifyOrder], written: dict[str, int], previous: dict[str, Any]) -> list[str]:
    """Orders whose snapshot met a version of the same second from the other kind of source: a webhook
    refused over a GraphQL version, a GraphQL version written over a webhook's.

    ``_newer_webhook`` and ``_newer_graphql`` decide in SQL; this names, from the rows read before, the
    decisions that only the second's tie made (a webhook refused for an older second is simply stale)."""
    undecided = []
    for snap in batch:
        before = previous.get(snap.gid)
        if before is None:
            continue
        if snap.from_graphql:  # written over a webhook's version
            met = before["source"] == "webhook" and snap.gid in written
        else:  # refused over a GraphQL version
            met = before["source"] != "webhook" and snap.gid not in written
        if met and _second(before["shopify_updated_at"]) == _second(snap.updated_at):
            undecided.append(snap.gid)
    return undecided


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def _keep_finer_fulfillment(snap: ShopifyOrder, before: dict[str, Any] | None) -> ShopifyOrder:
    """REST's ``fulfillment_status: null`` (parsed ``UNFULFILLED``) also stands for IN_PROGRESS, ON_HOLD,
    SCHEDULED…: a webhook must not overwrite the finer status GraphQL gave the ledger with it (the next
    reconcile or the cancellation's own read tells the truth again if it really went back)."""
    if snap.from_graphql or before is None or snap.display_fulfillment_status != "UNFULFILLED":
        return snap
    kept = before["display_fulfillment_status"]
    if kept in REST_UNFULFILLED and kept != "UNFULFILLED":
        return replace(snap, display_fulfillment_status=kept)
    return snap


def _observe(source: str, result: ApplyResult, seconds: float) -> None:
    count = len(result.applied) + result.stale
    if count:
        APPLY_SECONDS.labels(source).observe(seconds / count)
    ORDERS_APPLIED.labels(source, "applied").inc(len(result.applied))
    ORDERS_APPLIED.labels(source, "stale").inc(result.stale)


def _rank(snapshot: ShopifyOrder) -> tuple[Any, bool, Any]:
    return (snapshot.updated_at, snapshot.from_graphql, snapshot.triggered_at or _UNKNOWN)


#: A webhook whose trigger time is unknown ranks as the earliest of its second (the last one wins, as before).
_UNKNOWN = dt.datetime.min.replace(tzinfo=dt.UTC)


def _newest_per_order(snapshots: Iterable[ShopifyOrder]) -> list[ShopifyOrder]:
    newest: dict[str, ShopifyOrder] = {}
    for snap in snapshots:
        current = newest.get(snap.gid)
        if current is None or _rank(snap) >= _rank(current):
            newest[snap.gid] = snap
    return list(newest.values())


def _previous_rows(session: Session, shop_id: int, gids: list[str]) -> dict[str, dict[str, Any]]:
    columns = [
        ORDERS.c.shopify_gid, ORDERS.c.shopify_updated_at, ORDERS.c.display_financial_status,
        ORDERS.c.display_fulfillment_status, ORDERS.c.cancelled_at, ORDERS.c.total_refunded, ORDERS.c.source,
    ]  # fmt: skip
    # By one array parameter on PostgreSQL: a backfill refreshes the statistics that make it an index scan.
    wanted = any_of(session, ORDERS.c.shopify_gid, gids, String)
    query = select(*columns).where(ORDERS.c.shop_id == shop_id, wanted)
    return {row["shopify_gid"]: dict(row) for row in session.execute(query).mappings()}


def _order_values(shop_id: int, snap: ShopifyOrder, now: Any) -> dict[str, Any]:
    refunded = snap.total_refunded
    if refunded is None and snap.refunds is not None:
        refunded = sum((r.total_refunded for r in snap.refunds), Decimal(0))
    zero = Decimal(0)
    return {
        "shop_id": shop_id, "shopify_gid": snap.gid, "legacy_id": snap.legacy_id, "name": snap.name,
        "currency": snap.currency, "presentment_currency": snap.presentment_currency,
        "subtotal_price": snap.subtotal_price or zero, "total_price": snap.total_price or zero,
        "total_tax": snap.total_tax or zero, "total_shipping": snap.total_shipping or zero,
        "total_discounts": snap.total_discounts or zero, "total_refunded": refunded or zero,
        "total_outstanding": snap.total_outstanding or zero, "total_received": snap.total_received or zero,
        "display_financial_status": snap.display_financial_status,
        "display_fulfillment_status": snap.display_fulfillment_status,
        "cancelled_at": snap.cancelled_at, "cancel_reason": snap.cancel_reason, "closed_at": snap.closed_at,
        "processed_at": snap.processed_at, "shopify_created_at": snap.created_at,
        "shopify_updated_at": snap.updated_at, "test": snap.test, "tags": list(snap.tags),
        "note_attributes": snap.note_attributes, "customer_gid": snap.customer_gid, "email": snap.email,
        "phone": snap.phone, "customer_name": snap.customer_name, "shipping_address": snap.shipping_address,
        "raw": snap.raw, "source": snap.source, "webhook_triggered_at": snap.triggered_at,
        "mirrored_at": now, "created_at": now, "updated_at": now,
    }  # fmt: skip


def _upsert_orders(
    session: Session, shop_id: int, group: list[ShopifyOrder], from_graphql: bool, inserted: set[int],
    previous: dict[str, Any],
) -> dict[str, int]:  # fmt: skip
    """gid → id of each order written; the ids of those it inserted are added to ``inserted``.

    Orders ``previous`` did not find (all of a backfill's) are inserted straight (``insert_new``); the
    rest, and those when another transaction inserted one meanwhile, are merged by their version.
    """
    now = utcnow()
    rows = [_order_values(shop_id, s, now) for s in group]
    keep = {"shop_id", "shopify_gid", "created_at"} | (set() if from_graphql else _NOT_IN_REST)
    returned: list[Any] = []
    for absent in (True, False):
        part = [row for row in rows if (row["shopify_gid"] not in previous) is absent]
        returned += upsert(
            session, ORDERS, part, conflict=["shop_id", "shopify_gid"], update=[c for c in rows[0] if c not in keep],
            where=_newer_graphql if from_graphql else _newer_webhook, returning=["id", "shopify_gid", INSERTED],
            absent=absent,
        )  # fmt: skip
    inserted.update(order_id for order_id, _, new in returned if new)
    return {gid: order_id for order_id, gid, _ in returned}


def _newer_graphql(stmt: Any) -> Any:
    return ORDERS.c.shopify_updated_at <= stmt.excluded.shopify_updated_at


def _newer_webhook(stmt: Any) -> Any:
    """A webhook replaces an equal version only when that version also came from a webhook triggered no
    later (Shopify's ``X-Shopify-Triggered-At`` has the milliseconds ``updated_at`` lacks; either unknown:
    the one applied last). One of the same second from GraphQL is refused and re-read: ``_undecided``."""
    current, incoming = ORDERS.c.shopify_updated_at, stmt.excluded.shopify_updated_at
    stored, triggered = ORDERS.c.webhook_triggered_at, stmt.excluded.webhook_triggered_at
    not_later = or_(stored.is_(None), triggered.is_(None), stored <= triggered)
    return or_(current < incoming, and_(current == incoming, ORDERS.c.source == "webhook", not_later))


def _last_per_key(rows: list[dict[str, Any]], key: list[str]) -> list[dict[str, Any]]:
    return list({tuple(row[c] for c in key): row for row in rows}.values())


def _insert(session: Session, table: Table, rows: list[dict[str, Any]], key: list[str]) -> None:
    if rows:
        insert_rows(session, table, _last_per_key(rows, key))


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], conflict: list[str]) -> None:
    if rows:
        rows = _last_per_key(rows, conflict)
        upsert(session, table, rows, conflict=conflict, update=[c for c in rows[0] if c not in conflict])


def _upsert_children(session: Session, applied: Sequence[AppliedOrder], inserted: set[int]) -> None:
    """Line items, fulfillment orders, refunds and transactions, by their Shopify id.

    The children of an order this transaction inserted cannot exist yet (they reference it, and nobody
    else sees it before the commit): they are written straight into their tables (``COPY`` on PostgreSQL)
    instead of through a staged merge that looks each one up — a backfill's orders are all new, and the
    merges were ~3 s of the server's CPU in 100,000 orders.
    """
    tables = ((LINES, _line_values, "lines"), (FULFILLMENT_ORDERS, _fo_values, "fulfillment_orders"),
              (REFUNDS, _refund_values, "refunds"), (TRANSACTIONS, _transaction_values, "transactions"))  # fmt: skip
    for table, values, attribute in tables:
        fresh: list[dict[str, Any]] = []
        known: list[dict[str, Any]] = []
        for a in applied:
            children = getattr(a.snapshot, attribute) or ()
            (fresh if a.order_id in inserted else known).extend(values(a.order_id, child) for child in children)
        _insert(session, table, fresh, ["order_id", "shopify_gid"])
        _upsert(session, table, known, ["order_id", "shopify_gid"])


def _line_values(order_id: int, li: Any) -> dict[str, Any]:
    current = li.current_quantity if li.current_quantity is not None else li.quantity
    unfulfilled = li.unfulfilled_quantity if li.unfulfilled_quantity is not None else current
    refundable = li.refundable_quantity if li.refundable_quantity is not None else current
    return {
        "order_id": order_id, "shopify_gid": li.gid, "title": li.title, "variant_title": li.variant_title,
        "sku": li.sku, "variant_gid": li.variant_gid, "product_gid": li.product_gid, "vendor": li.vendor,
        "quantity": li.quantity, "current_quantity": current, "refundable_quantity": refundable,
        "unfulfilled_quantity": unfulfilled, "unit_price": li.unit_price, "total_discount": li.total_discount,
        "total_tax": li.total_tax, "requires_shipping": li.requires_shipping,
    }  # fmt: skip


def _fo_values(order_id: int, fo: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "order_id": order_id, "shopify_gid": fo.gid, "status": fo.status, "request_status": fo.request_status,
        "assigned_location": fo.assigned_location, "line_items": list(fo.line_items),
        "shopify_updated_at": fo.updated_at, "created_at": now, "updated_at": now,
    }  # fmt: skip


def _refund_values(order_id: int, r: Any) -> dict[str, Any]:
    return {
        "order_id": order_id, "shopify_gid": r.gid, "total_refunded": r.total_refunded, "currency": r.currency,
        "note": r.note, "refund_line_items": list(r.refund_line_items), "shopify_created_at": r.created_at,
    }  # fmt: skip


def _transaction_values(order_id: int, t: ShopifyTransaction) -> dict[str, Any]:
    return {
        "order_id": order_id, "shopify_gid": t.gid, "kind": t.kind, "status": t.status, "gateway": t.gateway,
        "amount": t.amount, "currency": t.currency, "parent_gid": t.parent_gid, "processed_at": t.processed_at,
    }  # fmt: skip


def record_refund(
    session: Session, shop_id: int, order_id: int, refund: Any, txns: Sequence[ShopifyTransaction]
) -> None:
    """Upsert one refund and its transactions and derive their money (a ``refunds/create`` webhook)."""
    _upsert(session, REFUNDS, [_refund_values(order_id, refund)], ["order_id", "shopify_gid"])
    _upsert(session, TRANSACTIONS, [_transaction_values(order_id, t) for t in txns], ["order_id", "shopify_gid"])
    _insert_money(session, [_money_row(shop_id, order_id, t, refund.created_at) for t in txns if ledger_kind(t)])


def ledger_kind(txn: ShopifyTransaction) -> str | None:
    """The money movement a transaction is, if any: captured payments in, refunds out."""
    if txn.status != "SUCCESS" or txn.amount <= 0:
        return None
    if txn.kind in _PAYMENT_KINDS:
        return "customer_payment"
    if txn.kind == "REFUND":
        return "customer_refund"
    return None


def _money_row(shop_id: int, order_id: int, txn: ShopifyTransaction, fallback_time: Any) -> dict[str, Any]:
    return {
        "shop_id": shop_id, "order_id": order_id, "supplier_order_id": None, "kind": ledger_kind(txn),
        "amount": txn.amount, "currency": txn.currency, "source_ref": f"shopify:transaction:{txn.gid}",
        "occurred_at": txn.processed_at or fallback_time, "recorded_at": utcnow(), "note": None,
    }  # fmt: skip


def _derive_money(session: Session, shop_id: int, applied: Sequence[AppliedOrder], inserted: set[int]) -> None:
    """The ledger entries of the batch's transactions. Those of orders this transaction inserted are new
    but for an order deleted and mirrored again (its entries outlive it): inserted straight, merged only
    when one of them is there already."""
    new: list[dict[str, Any]] = []
    known: list[dict[str, Any]] = []
    for a in applied:
        rows = new if a.order_id in inserted else known
        rows += [
            _money_row(shop_id, a.order_id, t, a.snapshot.updated_at)
            for t in a.snapshot.transactions or ()
            if ledger_kind(t) is not None
        ]
    _insert_money(session, new, absent=True)
    _insert_money(session, known)


def _insert_money(session: Session, rows: list[dict[str, Any]], *, absent: bool = False) -> None:
    upsert(session, LEDGER, rows, conflict=["source_ref"], absent=absent)


def _record_changes(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    now = utcnow()
    events = [
        {
            "shop_id": shop_id,
            "order_id": a.order_id,
            "supplier_order_id": None,
            "kind": kind,
            "message": message,
            "actor": _actor(a.snapshot.source),
            "data": {"updated_at": str(a.snapshot.updated_at)},
            "occurred_at": now,
        }
        for a in applied
        for kind, message in changes(a.previous, a.snapshot)
    ]
    insert_rows(session, TIMELINE, events)


def _actor(source: str) -> str:
    return {"webhook": "shopify:webhook", "reconcile": "sync:reconcile", "backfill": "sync:backfill"}.get(
        source, f"shopify:{source}"
    )


def changes(previous: dict[str, Any] | None, snap: ShopifyOrder) -> list[tuple[str, str]]:
    """What a person would want on the timeline when this snapshot replaced that row."""
    if previous is None:
        if snap.source == "backfill":
            return []  # a backfill of 100k orders would bury every timeline under "first seen"
        return [("order.mirrored", f"Order {snap.name} mirrored from Shopify ({snap.source})")]
    found: list[tuple[str, str]] = []
    if snap.cancelled_at and previous["cancelled_at"] is None:
        found.append(("order.cancelled", f"Cancelled on Shopify (reason: {snap.cancel_reason or 'none'})"))
    old, new = previous["display_financial_status"], snap.display_financial_status
    if new and old != new:
        found.append(("order.financial_status", f"Payment status {old or '-'} → {new}"))
    old, new = previous["display_fulfillment_status"], snap.display_fulfillment_status
    if new and old != new:
        found.append(("order.fulfillment_status", f"Fulfillment status {old or '-'} → {new}"))
    return found
