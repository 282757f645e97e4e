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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import LineItem, Order, SupplierOrder, TimelineEvent
from worker.errors import RefusedError, UsageError
from worker.mirror.apply import AppliedOrder
from worker.supplier.service import SUPPLIER_ORDER_ID, find_supplier_order, link_supplier_order
from worker.timeline import record_event

ATTRIBUTE_KEYS = frozenset(
    {"aliexpress_order_id", "aliexpress_order_number", "aliexpress_order", "ae_order_id", "ae_order_number"}
)
TAG_PATTERN = re.compile(r"^\s*(?:aliexpress|ae)\s*[:#]\s*(\S+)\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")


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


def supplier_ids_on_order(order: Order) -> tuple[list[str], list[str]]:
    """(valid ids in order of appearance, unreadable values) from the note attributes and tags."""
    found: list[str] = []
    bad: list[str] = []
    candidates: list[str] = []
    for key, value in _attributes(order.note_attributes):
        if _normalise_key(key) in ATTRIBUTE_KEYS:
            candidates += [v for v in _SEPARATORS.split(value) if v]
    for tag in order.tags or []:
        match = TAG_PATTERN.match(str(tag))
        if match:
            candidates.append(match.group(1))
    for candidate in candidates:
        (found if SUPPLIER_ORDER_ID.match(candidate) else bad).append(candidate)
    return list(dict.fromkeys(found)), bad


def link_from_order_attributes(session: Session, order: Order, actor: str = "mirror") -> list[SupplierOrder]:
    """Link every AliExpress order number the Shopify order carries (see module doc). Flushes only.

    One id: it covers all the order's remaining shippable items. Several: the split is unknown, so they
    are linked without items and the timeline asks a person to assign them. An id already linked to
    another order, or an unreadable value, is recorded on the timeline and skipped, never raised: the
    mirror calls this after every snapshot and must not fail because of a typo in a note.
    """
    ids, bad = supplier_ids_on_order(order)
    for value in bad:
        _note(session, order, actor, f"ignored {value!r} in the order's AliExpress reference: not an order number")
    linked: list[SupplierOrder] = []
    for supplier_order_id in ids:
        existing = find_supplier_order(session, order.shop_id, supplier_order_id)
        if existing is not None and existing.order_id == order.id:
            linked.append(existing)
            continue
        try:
            so = link_supplier_order(session, order, supplier_order_id, None if len(ids) == 1 else [], actor)
        except (RefusedError, UsageError) as exc:
            _note(session, order, actor, f"could not link AliExpress order {supplier_order_id}: {exc}")
            continue
        linked.append(so)
        if len(ids) > 1:
            _note(
                session,
                order,
                actor,
                f"AliExpress order {supplier_order_id} linked without items (several on "
                "this order): assign them with `dropsync supplier link ORDER ID --items LINE:QTY,…`",
            )
    return linked


def link_recent_orders(session: Session, since: dt.datetime, actor: str = "linker") -> int:
    """Run ``link_from_order_attributes`` over orders mirrored since ``since``; returns how many linked.

    The safety net behind the mirror's own call (beat, every few minutes, over an overlapping window):
    idempotent, so an order seen several times links once and notes once.
    """
    query = select(Order).where(Order.updated_at >= since).order_by(Order.id)
    linked = 0
    for order in session.scalars(query):
        before = len(order_supplier_ids(session, order))
        after = len(link_from_order_attributes(session, order, actor))
        linked += max(after - before, 0)
    return linked


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
    """``LINE:QTY,…`` → (line item, quantity). LINE is the 1-based position on the order, a SKU, a
    line item GID or its numeric id; ``:QTY`` may be omitted (the whole line quantity)."""
    out: list[tuple[LineItem, int]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        head, sep, tail = part.rpartition(":")
        ref, qty_text = (head, tail) if sep and head and tail.strip().isdigit() else (part, "")
        line = _find_line(order, ref.strip())
        quantity = int(qty_text) if qty_text else line.quantity
        out.append((line, quantity))
    if not out:
        raise UsageError("--items: give at least one LINE:QTY")
    return out


def _find_line(order: Order, ref: str) -> LineItem:
    lines = list(order.line_items)
    if ref.isdigit() and 1 <= int(ref) <= len(lines):
        return lines[int(ref) - 1]
    for line in lines:
        if ref in (line.shopify_gid, line.sku) or (ref.isdigit() and line.shopify_gid.endswith(f"/{ref}")):
            return line
    raise UsageError(f"--items: no line item {ref!r} on {order.name} (use its position 1..{len(lines)}, SKU or id)")


def link_applied_orders(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    """Mirror hook: link at once every applied order that names an AliExpress order (cheap filter first).

    Bulk backfills apply thousands of orders a batch; only those whose snapshot carries a reference are
    loaded. ``supplier.link_recent`` on beat remains the safety net.
    """
    for item in applied:
        snap = item.snapshot
        hinted = any(_normalise_key(k) in ATTRIBUTE_KEYS for k in snap.note_attributes) or any(
            TAG_PATTERN.match(tag) for tag in snap.tags
        )
        if hinted:
            order = session.get(Order, item.order_id)
            if order is not None:
                link_from_order_attributes(session, order, actor="mirror")
