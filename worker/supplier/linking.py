"""Finding the AliExpress order numbers a Shopify order carries, and the operator's ``--items`` syntax.

Convention (documented in README "Supplier orders"): the dropshipping apps (DSers, AutoDS) keep the
AliExpress order number in their own database and push only tracking back to Shopify; nothing they
publish writes it to a fixed Shopify field. Stores that want the link visible on the Shopify order add
it themselves (a Flow, a script, or by hand), and the common shapes are:

- a **note attribute** (``customAttributes``) named ``aliexpress_order_id`` — the primary convention,
  also what the Shopify sandbox seeds. Accepted spellings: any key that normalises to
  ``aliexpress_order_id``, ``aliexpress_order_number``, ``aliexpress_order``, ``ae_order_id`` or
  ``ae_order_number`` ("AliExpress Order Number" works). Several ids may be separated by ``,``/``;``/spaces.
- a **tag** ``aliexpress:<id>`` (or ``ae:<id>``), one tag per supplier order.

Metafields are not mirrored into the ledger, so they are not read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, Table, func, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import LineItem, Order, SupplierOrder, SupplierOrderItem, TimelineEvent
from models.types import utcnow
from worker.db.bulk import any_of, insert_rows, upsert
from worker.errors import RefusedError, UsageError
from worker.mirror.apply import AppliedOrder
from worker.orders import find_line
from worker.supplier.service import SUPPLIER, SUPPLIER_ORDER_ID, link_supplier_order
from worker.timeline import record_event

ATTRIBUTE_KEYS = frozenset(
    {"aliexpress_order_id", "aliexpress_order_number", "aliexpress_order", "ae_order_id", "ae_order_number"}
)
TAG_PATTERN = re.compile(r"^\s*(?:aliexpress|ae)\s*[:#]\s*(\S+)\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")

ORDERS: Table = Order.__table__  # type: ignore[assignment]
LINES: Table = LineItem.__table__  # type: ignore[assignment]
SUPPLIER_ORDERS: Table = SupplierOrder.__table__  # type: ignore[assignment]
SUPPLIER_ORDER_ITEMS: Table = SupplierOrderItem.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]
_SUPPLIER_KEY = ("shop_id", "supplier", "supplier_order_id")


def _normalise_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_")


def _attributes(raw: Any) -> list[tuple[str, str]]:
    """Note attributes as (key, value) pairs, from a dict or Shopify's [{key|name, value}] list."""
    if isinstance(raw, dict):
        return [(str(k), str(v)) for k, v in raw.items() if v is not None]
    if isinstance(raw, list):
        pairs = []
        for item in raw:
            if isinstance(item, dict):
                key = item.get("key", item.get("name"))
                if key is not None and item.get("value") is not None:
                    pairs.append((str(key), str(item["value"])))
        return pairs
    return []


def supplier_ids(note_attributes: Any, tags: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(valid ids in order of appearance, unreadable values) from note attributes and tags."""
    found: list[str] = []
    bad: list[str] = []
    candidates: list[str] = []
    for key, value in _attributes(note_attributes):
        if _normalise_key(key) in ATTRIBUTE_KEYS:
            candidates += [v for v in _SEPARATORS.split(value) if v]
    for tag in tags or []:
        match = TAG_PATTERN.match(str(tag))
        if match:
            candidates.append(match.group(1))
    for candidate in candidates:
        (found if SUPPLIER_ORDER_ID.match(candidate) else bad).append(candidate)
    return list(dict.fromkeys(found)), bad


def supplier_ids_on_order(order: Order) -> tuple[list[str], list[str]]:
    """(valid ids in order of appearance, unreadable values) from the order's note attributes and tags."""
    return supplier_ids(order.note_attributes, order.tags)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An order to link, with the AliExpress references it carries (``supplier_ids``)."""

    order_id: int
    shop_id: int
    name: str
    currency: str
    ids: list[str]
    bad: list[str]

    @classmethod
    def of(cls, order_id: int, shop_id: int, name: str, currency: str, attributes: Any, tags: Any) -> Candidate:
        ids, bad = supplier_ids(attributes, tags)
        return cls(order_id, shop_id, name, currency, ids, bad)


@dataclass
class LinkResult:
    linked: dict[int, list[int]] = field(default_factory=dict)  # order id → its supplier order row ids
    new: int = 0  # supplier orders linked by this call


def link_from_order_attributes(session: Session, order: Order, actor: str = "mirror") -> list[SupplierOrder]:
    """Link every AliExpress order number the Shopify order carries (see module doc and ``link_orders``)."""
    candidate = Candidate.of(order.id, order.shop_id, order.name, order.currency, order.note_attributes, order.tags)
    ids = link_orders(session, [candidate], actor).linked.get(order.id, [])
    rows = {so.id: so for so in session.scalars(select(SupplierOrder).where(SupplierOrder.id.in_(ids)))}
    return [rows[i] for i in ids]


def link_orders(session: Session, candidates: Sequence[Candidate], actor: str = "mirror") -> LinkResult:
    """Link the AliExpress orders a batch of Shopify orders carry: one query per table, bulk inserts.

    One id: it covers all the order's remaining shippable items. Several: the split is unknown, so they
    are linked without items and the timeline asks a person to assign them. An id already linked to
    another order, or an unreadable value, is recorded on the timeline (once) and skipped, never raised:
    the mirror calls this after every batch and must not fail because of a typo in a note. An id whose
    supplier order exists without an order (its order was deleted) goes through ``link_supplier_order``.
    Flushes only.
    """
    result = LinkResult()
    wanted = [c for c in candidates if c.ids or c.bad]
    if not wanted:
        return result
    session.flush()  # Core statements below: the session's pending rows first
    plan = _plan(session, wanted, result)
    created = _insert_supplier_orders(session, plan.creates)
    result.new += len(created)
    items = _remaining_items(session, [c for c, sid in plan.creates if len(c.ids) == 1])
    rows: list[dict[str, Any]] = []
    plan.creates = [(c, sid) for c, sid in plan.creates if (c.shop_id, sid) in created]
    for candidate, sid in plan.creates:
        so_id = created[(candidate.shop_id, sid)]
        result.linked.setdefault(candidate.order_id, []).append(so_id)
        chosen = items.get(candidate.order_id, []) if len(candidate.ids) == 1 else []
        rows += [{"supplier_order_id": so_id, "line_item_id": line_id, "quantity": qty} for line_id, _, qty in chosen]
        plan.linked_events[(candidate.shop_id, sid)] = (so_id, chosen)
    # Items of supplier orders this transaction created: nobody else can have written any yet.
    insert_rows(session, SUPPLIER_ORDER_ITEMS, rows)
    _insert_events(session, plan, actor)
    for candidate, sid in plan.relinks:  # rare: through the one-order service function
        order = session.get_one(Order, candidate.order_id)
        try:
            so = link_supplier_order(session, order, sid, None if len(candidate.ids) == 1 else [], actor)
        except (RefusedError, UsageError) as exc:
            _note(session, order, actor, f"could not link AliExpress order {sid}: {exc}")
            continue
        result.linked.setdefault(candidate.order_id, []).append(so.id)
        result.new += 1
    return result


@dataclass
class _Plan:
    steps: list[tuple[Candidate, str, str]] = field(default_factory=list)  # (candidate, "note"|"linked", text)
    creates: list[tuple[Candidate, str]] = field(default_factory=list)
    relinks: list[tuple[Candidate, str]] = field(default_factory=list)
    linked_events: dict[tuple[int, str], tuple[int, list[tuple[int, str, int]]]] = field(default_factory=dict)


def _plan(session: Session, wanted: Sequence[Candidate], result: LinkResult) -> _Plan:
    table = SUPPLIER_ORDERS
    all_ids = sorted({sid for c in wanted for sid in c.ids})
    owner: dict[tuple[int, str], tuple[int, int | None]] = {}
    if all_ids:
        query = select(table.c.id, table.c.shop_id, table.c.supplier_order_id, table.c.order_id).where(
            table.c.supplier == SUPPLIER,
            table.c.shop_id.in_({c.shop_id for c in wanted}),
            any_of(session, table.c.supplier_order_id, all_ids, String),
        )
        owner = {(r.shop_id, r.supplier_order_id): (r.id, r.order_id) for r in session.execute(query)}
    plan = _Plan()
    for c in wanted:
        plan.steps += [
            (c, "note", f"ignored {v!r} in the order's AliExpress reference: not an order number") for v in c.bad
        ]
        for sid in c.ids:
            key = (c.shop_id, sid)
            if key in owner:
                row_id, order_id = owner[key]
                if order_id == c.order_id:
                    if row_id:
                        result.linked.setdefault(c.order_id, []).append(row_id)
                elif order_id is not None:
                    refusal = f"supplier order {sid} is already linked to another order"
                    plan.steps.append((c, "note", f"could not link AliExpress order {sid}: {refusal}"))
                else:
                    plan.relinks.append((c, sid))
                continue
            owner[key] = (0, c.order_id)  # claimed by this batch: a later order naming it is refused
            plan.creates.append((c, sid))
            plan.steps.append((c, "linked", sid))
            if len(c.ids) > 1:
                plan.steps.append((c, "note", _several(sid)))
    return plan


def _unreadable(value: str) -> str:
    return f"ignored {value!r} in the order's AliExpress reference: not an order number"


def _several(sid: str) -> str:
    return (
        f"AliExpress order {sid} linked without items (several on this order): assign them with "
        "`dropsync supplier link ORDER ID --items LINE:QTY,…`"
    )


def _insert_supplier_orders(session: Session, creates: Sequence[tuple[Candidate, str]]) -> dict[tuple[int, str], int]:
    """New supplier orders, due for their first poll at once; their ids by (shop, AliExpress id).

    ``_plan`` found none of them (``absent``: inserted straight). When another transaction linked one
    meanwhile, ``ON CONFLICT DO NOTHING`` instead: that id is left to it (not returned).
    """
    if not creates:
        return {}
    now = utcnow()
    values = [
        {"shop_id": c.shop_id, "order_id": c.order_id, "supplier": SUPPLIER, "supplier_order_id": sid,
         "status": st.UNKNOWN, "status_unknown": False, "tracking_numbers": [], "raw": {}, "currency": c.currency,
         "amount_paid": Decimal(0), "amount_refunded": Decimal(0), "protection_extended_days": 0,
         "poll_failures": 0, "next_poll_at": now, "created_at": now, "updated_at": now}
        for c, sid in creates
    ]  # fmt: skip
    returned = upsert(
        session, SUPPLIER_ORDERS, values, conflict=_SUPPLIER_KEY, returning=("id", *_SUPPLIER_KEY), absent=True
    )
    return {(shop_id, supplier_order_id): so_id for so_id, shop_id, _, supplier_order_id in returned}


def _remaining_items(session: Session, candidates: Sequence[Candidate]) -> dict[int, list[tuple[int, str, int]]]:
    """Per order: (line item id, title, quantity not covered by any supplier order) of its shippable lines."""
    if not candidates:
        return {}
    lines_table, items_table = LINES, SUPPLIER_ORDER_ITEMS
    order_ids = [c.order_id for c in candidates]
    lines = session.execute(
        select(lines_table.c.id, lines_table.c.order_id, lines_table.c.title, lines_table.c.quantity)
        .where(any_of(session, lines_table.c.order_id, order_ids, Integer), lines_table.c.requires_shipping)
        .order_by(lines_table.c.id)
    ).all()
    covered: dict[int, int] = {}
    if lines:
        query = (
            select(items_table.c.line_item_id, func.sum(items_table.c.quantity))
            .where(any_of(session, items_table.c.line_item_id, [line.id for line in lines], Integer))
            .group_by(items_table.c.line_item_id)
        )
        covered = {line_id: int(total) for line_id, total in session.execute(query)}
    out: dict[int, list[tuple[int, str, int]]] = {}
    for line in lines:
        left = line.quantity - covered.get(line.id, 0)
        if left > 0:
            out.setdefault(line.order_id, []).append((line.id, line.title, left))
    return out


def _insert_events(session: Session, plan: _Plan, actor: str) -> None:
    """The timeline, in the order a person would read it; each note once per order (re-applies repeat)."""
    noted = {c.order_id for c, kind, _ in plan.steps if kind == "note"}
    seen: set[tuple[int, str]] = set()
    if noted:
        events = TIMELINE
        query = select(events.c.order_id, events.c.message).where(
            any_of(session, events.c.order_id, sorted(noted), Integer), events.c.kind == "supplier.link_note"
        )
        seen = {(row.order_id, row.message) for row in session.execute(query)}
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for c, kind, text in plan.steps:
        base = {"shop_id": c.shop_id, "order_id": c.order_id, "actor": actor, "occurred_at": now}
        if kind == "note":
            if (c.order_id, text) not in seen:
                seen.add((c.order_id, text))
                rows.append({**base, "supplier_order_id": None, "kind": "supplier.link_note", "message": text,
                             "data": {}})  # fmt: skip
            continue
        if (c.shop_id, text) not in plan.linked_events:
            continue  # another transaction linked it first
        so_id, chosen = plan.linked_events[(c.shop_id, text)]
        summary = ", ".join(f"{qty} × {title}" for _, title, qty in chosen) or "no line items"
        data = {"supplier_order_id": text, "items": [{"line_item_id": i, "quantity": q} for i, _, q in chosen]}
        rows.append({**base, "supplier_order_id": so_id, "kind": "supplier.linked", "data": data,
                     "message": f"supplier order {text}: linked to {c.name} for {summary}"})  # fmt: skip
    insert_rows(session, TIMELINE, rows)


def link_recent_orders(session: Session, since: dt.datetime, actor: str = "linker", chunk: int = 1000) -> int:
    """``link_orders`` over orders mirrored since ``since``, a chunk at a time; returns how many linked.

    The safety net behind the mirror's own call (beat, every few minutes, over an overlapping window):
    idempotent, so an order seen several times links once and notes once.
    """
    orders = ORDERS
    columns = (orders.c.id, orders.c.shop_id, orders.c.name, orders.c.currency, orders.c.note_attributes,
               orders.c.tags)  # fmt: skip
    linked, after = 0, 0
    while True:
        query = select(*columns).where(orders.c.updated_at >= since, orders.c.id > after)
        rows = session.execute(query.order_by(orders.c.id).limit(chunk)).all()
        if not rows:
            return linked
        linked += link_orders(session, [Candidate.of(*row) for row in rows], actor).new
        after = rows[-1].id


def order_supplier_ids(session: Session, order: Order) -> list[str]:
    return list(session.scalars(select(SupplierOrder.supplier_order_id).where(SupplierOrder.order_id == order.id)))


def _note(session: Session, order: Order, actor: str, message: str) -> None:
    seen = select(TimelineEvent.id).where(
        TimelineEvent.order_id == order.id, TimelineEvent.kind == "supplier.link_note", TimelineEvent.message == message
    )
    if session.scalar(seen.limit(1)) is not None:
        return  # the mirror re-applies orders: say it once
    record_event(
        session, shop_id=order.shop_id, order_id=order.id, kind="supplier.link_note", message=message, actor=actor
    )


def parse_items(order: Order, spec: str) -> list[tuple[LineItem, int]]:
    """``LINE:QTY,…`` → (line item, quantity). LINE as ``worker.orders.find_line`` reads it (the position
    ``orders show`` prints, a SKU, the GID or its tail); ``:QTY`` may be omitted (the whole line quantity)."""
    out: list[tuple[LineItem, int]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        head, sep, tail = part.rpartition(":")
        ref, qty_text = (head, tail) if sep and head and tail.strip().isdigit() else (part, "")
        line = find_line(order, ref.strip())
        quantity = int(qty_text) if qty_text else line.quantity
        out.append((line, quantity))
    if not out:
        raise UsageError("--items: give at least one LINE:QTY")
    return out


def link_applied_orders(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    """Mirror hook: link at once every applied order that names an AliExpress order, the batch as a whole.

    Only orders whose snapshot carries a reference are considered (a cheap filter in Python), then
    ``link_orders`` does one query per table for the batch. ``supplier.link_recent`` on beat remains the
    safety net.
    """
    candidates = []
    for item in applied:
        snap = item.snapshot
        hinted = any(_normalise_key(k) in ATTRIBUTE_KEYS for k in snap.note_attributes) or any(
            TAG_PATTERN.match(tag) for tag in snap.tags
        )
        if hinted:
            candidates.append(
                Candidate.of(item.order_id, shop_id, snap.name, snap.currency, snap.note_attributes, snap.tags)
            )
    link_orders(session, candidates, actor="mirror")
