"""Running the cross-check rules over the ledger: one alert per disagreement, resolved when it clears.

``check_orders`` reads both sides of the given orders, runs :mod:`worker.crosscheck.rules`, raises
each disagreement as an alert (``crosscheck:{rule}:{order}:{supplier order}``: once however often it
runs; reopened if it comes back) and resolves the cross-check alerts of those orders that no longer
hold. ``check_recent`` does it for every order that can still disagree: changed within the window
(``DROPSYNC_CROSSCHECK_WINDOW_DAYS``) or with a supplier order not closed. Flushes only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, exists, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Alert, CancellationRequest, Dispute, LineItem, Order, Refund, SupplierOrder, SupplierOrderItem
from worker.alerts import AlertSpec, raise_alert, raise_new_alerts, resolve_alert
from worker.cancellation import states as cs
from worker.chargebacks.held import returned_by_banks
from worker.crosscheck import rules
from worker.db.bulk import any_of
from worker.deadlines.rules import refused_between
from worker.settings import get_settings

PREFIX = "crosscheck:"
BATCH = 500
#: A cancellation request in these states is carrying the order's cancellation out.
_BUSY = (*cs.OPEN, cs.SHOPIFY_ACTION)
#: The one dispute reason (``worker.supplier.disputes.REASONS``) about goods that never left the seller.
_NOTHING_SHIPPED_DISPUTE = "not_shipped"


@dataclass(frozen=True)
class Finding:
    """One disagreement on one order, as ``dropsync check`` shows it."""

    order: rules.ShopifySide
    supplier_order: str | None
    disagreement: rules.Disagreement

    @property
    def dedupe_key(self) -> str:
        d = self.disagreement
        key = f"{PREFIX}{d.rule}:{self.order.order_id}:{d.supplier_order_id or '-'}"
        return f"{key}:{d.variant}" if d.variant else key


def settings_from_env() -> rules.Settings:
    s = get_settings()
    return rules.Settings(
        dt.timedelta(hours=s.crosscheck_unlinked_hours),
        s.crosscheck_amount_tolerance,
        dt.timedelta(days=s.crosscheck_window_days),
    )


#: Only the columns the rules read (never ``raw``: a mirror batch must not pay for its JSON again).
_ORDER_COLUMNS = (
    Order.id, Order.shop_id, Order.name, Order.shopify_created_at, Order.cancelled_at,
    Order.display_financial_status, Order.display_fulfillment_status, Order.total_price, Order.total_refunded,
    Order.currency,
)  # fmt: skip
_SUPPLIER_COLUMNS = (
    SupplierOrder.id, SupplierOrder.order_id, SupplierOrder.supplier_order_id, SupplierOrder.status,
    SupplierOrder.currency, SupplierOrder.amount_paid, SupplierOrder.amount_refunded, SupplierOrder.paid_at,
    SupplierOrder.shipped_at, SupplierOrder.delivered_at, SupplierOrder.closed_at, SupplierOrder.handling_deadline,
    SupplierOrder.protection_ends_at, SupplierOrder.cancel_requested_at, SupplierOrder.cancel_refused_at,
)  # fmt: skip


def _supplier_side(so: Any, lines: frozenset[int]) -> rules.SupplierSide:
    return rules.SupplierSide(
        id=so.id, supplier_order_id=so.supplier_order_id, status=so.status, currency=so.currency,
        amount_paid=so.amount_paid, amount_refunded=so.amount_refunded, paid_at=so.paid_at, shipped_at=so.shipped_at,
        delivered_at=so.delivered_at, closed_at=so.closed_at, handling_deadline=so.handling_deadline,
        protection_ends_at=so.protection_ends_at,
        refused=refused_between(so.cancel_requested_at, so.cancel_refused_at),
        disputed=so.disputed or so.status == st.IN_DISPUTE, line_item_ids=lines, goods_disputed=so.goods_disputed,
    )  # fmt: skip


def _shopify_side(order: Any, charged_back: Decimal, refunds: Sequence[rules.ShopifyRefund]) -> rules.ShopifySide:
    return rules.ShopifySide(
        order_id=order.id, shop_id=order.shop_id, name=order.name, created_at=order.shopify_created_at,
        cancelled_at=order.cancelled_at, financial_status=order.display_financial_status,
        fulfillment_status=order.display_fulfillment_status, total_price=order.total_price,
        total_refunded=order.total_refunded, currency=order.currency, requires_shipping=order.ships,
        cancellation_in_progress=order.in_progress, charged_back=charged_back,
        refunds=tuple(refunds),
    )  # fmt: skip


def findings_for(
    session: Session, order_ids: Sequence[int], now: dt.datetime, settings: rules.Settings
) -> list[Finding]:
    """The disagreements of these orders at ``now`` (read-only)."""
    out: list[Finding] = []
    for start in range(0, len(order_ids), BATCH):
        out += _batch(session, list(order_ids[start : start + BATCH]), now, settings)
    return out


def _batch(session: Session, ids: list[int], now: dt.datetime, settings: rules.Settings) -> list[Finding]:
    """Five reads for the whole batch, by one array of ids each: the orders (with whether a line ships and
    whether a cancellation of ours is under way), their refunds (dates and amounts), what
    chargebacks gave their customers back, their supplier orders (with whether one is disputed, and about
    goods that shipped) and the line items those cover."""
    ships = exists().where(LineItem.order_id == Order.id, LineItem.requires_shipping)
    busy = exists().where(CancellationRequest.order_id == Order.id, CancellationRequest.state.in_(_BUSY))
    orders = session.execute(
        select(*_ORDER_COLUMNS, ships.label("ships"), busy.label("in_progress")).where(
            any_of(session, Order.id, ids, BigInteger)
        )
    ).all()
    refunds: dict[int, list[rules.ShopifyRefund]] = {}
    refund_query = select(Refund.order_id, Refund.shopify_created_at, Refund.total_refunded).where(
        any_of(session, Refund.order_id, ids, BigInteger)
    )
    for order_id, at, amount in session.execute(refund_query):
        refunds.setdefault(order_id, []).append(rules.ShopifyRefund(at, amount))
    disputed = exists().where(Dispute.supplier_order_id == SupplierOrder.id)
    goods_disputed = exists().where(
        Dispute.supplier_order_id == SupplierOrder.id, Dispute.reason != _NOTHING_SHIPPED_DISPUTE
    )
    suppliers: dict[int, list[Any]] = {}
    linked_query = (
        select(*_SUPPLIER_COLUMNS, disputed.label("disputed"), goods_disputed.label("goods_disputed"))
        .where(any_of(session, SupplierOrder.order_id, ids, BigInteger))
        .order_by(SupplierOrder.id)
    )
    for so in session.execute(linked_query):
        suppliers.setdefault(so.order_id or 0, []).append(so)
    covers: dict[int, set[int]] = {}
    linked_ids = [so.id for rows in suppliers.values() for so in rows]
    if linked_ids:
        items = select(SupplierOrderItem.supplier_order_id, SupplierOrderItem.line_item_id).where(
            any_of(session, SupplierOrderItem.supplier_order_id, linked_ids, BigInteger)
        )
        for supplier_order_id, line_item_id in session.execute(items):
            covers.setdefault(supplier_order_id, set()).add(line_item_id)
    banks = returned_by_banks(session, [order.id for order in orders]) if orders else {}
    out = []
    for order in orders:
        linked = suppliers.get(order.id, ())
        side = _shopify_side(order, banks.get(order.id, Decimal(0)), refunds.get(order.id, ()))
        views = [_supplier_side(so, frozenset(covers.get(so.id, ()))) for so in linked]
        names = {so.id: so.supplier_order_id for so in linked}
        for d in rules.check(side, views, now, settings):
            out.append(Finding(side, names.get(d.supplier_order_id or 0), d))
    return out


def check_orders(
    session: Session, order_ids: Iterable[int], now: dt.datetime, settings: rules.Settings | None = None
) -> list[Finding]:
    """Raise what disagrees, resolve what no longer does, for these orders. Flushes only."""
    ids = sorted(set(order_ids))
    if not ids:
        return []
    found = findings_for(session, ids, now, settings or settings_from_env())
    live = {f.dedupe_key for f in found}
    # One light query for every cross-check alert of these orders (open or resolved): a mirror batch of
    # 500 must not look each alert up alone, nor load the ones that stay as they are.
    known = session.execute(
        select(Alert.id, Alert.dedupe_key, Alert.resolved_at).where(
            any_of(session, Alert.order_id, ids, BigInteger), Alert.dedupe_key.startswith(PREFIX)
        )
    ).all()
    existing = {row.dedupe_key: row for row in known}
    fresh = {f.dedupe_key: _spec(f) for f in found if f.dedupe_key not in existing}
    raise_new_alerts(session, list(fresh.values()), now, actor="crosscheck")
    for f in found:
        row = existing.get(f.dedupe_key)
        if row is not None and row.resolved_at is not None:
            raise_alert(session, _spec(f), now, actor="crosscheck", reopen=True)
    for row in known:
        if row.resolved_at is None and row.dedupe_key not in live:
            alert = session.get_one(Alert, row.id)
            resolve_alert(session, alert, now, actor="crosscheck", why="both sides agree again")
    return found


def _spec(f: Finding) -> AlertSpec:
    d = f.disagreement
    subject = f"{f.order.name}" + (f" / supplier order {f.supplier_order}" if f.supplier_order else "")
    return AlertSpec(
        shop_id=f.order.shop_id, order_id=f.order.order_id, supplier_order_id=d.supplier_order_id, kind=d.rule,
        severity=d.severity, message=d.message, due_at=d.due_at, dedupe_key=f.dedupe_key, subject=subject,
        command=d.command,
    )  # fmt: skip


def candidate_order_ids(session: Session, now: dt.datetime) -> list[int]:
    """Orders that can still disagree: changed within the window, a supplier order not closed, or an open alert."""
    since = now - dt.timedelta(days=get_settings().crosscheck_window_days)
    recent = select(Order.id).where(Order.shopify_updated_at >= since)
    live = select(SupplierOrder.order_id).where(
        SupplierOrder.order_id.is_not(None), SupplierOrder.status.not_in(st.CLOSED_STATES)
    )
    alerted = select(Alert.order_id).where(
        Alert.order_id.is_not(None), Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(PREFIX)
    )
    ids: set[int] = set()
    for query in (recent, live, alerted):
        ids.update(i for i in session.scalars(query) if i is not None)
    return sorted(ids)


def check_recent(session: Session, now: dt.datetime) -> list[Finding]:
    return check_orders(session, candidate_order_ids(session, now), now)
