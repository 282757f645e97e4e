"""Keyset pagination over all orders, sorted and filtered, without building orders that are not needed.

Two sorted streams are merged: seeded orders never mutated (ordered by index; every supported sort key
increases with the index, so cursors and time ranges become index ranges by binary search) and
materialized orders (sorted on demand). A cursor is ``base64(json({"last_id", "last_value"}))`` like
Shopify's; the next page starts strictly after that (value, id), so an order is never returned twice under
a stable key and updates to other orders do not shift pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandboxes.shopify.model import Order
from sandboxes.shopify.search import Bounds, OrderFilter
from sandboxes.shopify.state import ShopState

SORT_FIELDS = {
    "ID": None,
    "ORDER_NUMBER": None,
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "created_at",
    "UPDATED_AT": "updated_at",
}
SortKey = tuple[Any, int]
# A listed order: the order, or a seeded order's index (see ``listed``).
Entry = Order | int


class ListingError(ValueError):
    """Bad pagination arguments (the message is shown to the API caller)."""


@dataclass
class Page:
    """One page of orders; an order's cursor is encoded from its sort key when asked for."""

    orders: list[Order]
    time_field: str | None
    has_next: bool
    has_previous: bool

    def cursor(self, position: int) -> str:
        return encode_cursor(*sort_key(self.orders[position], self.time_field))


def encode_cursor(value: Any, numeric_id: int) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"last_id": numeric_id, "last_value": shown}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, time_field: str | None) -> SortKey:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        numeric_id = int(data["last_id"])
        value = datetime.fromisoformat(data["last_value"]) if time_field else int(data["last_value"])
    except (ValueError, KeyError, TypeError):
        raise ListingError(f"Invalid cursor for current pagination sort: {cursor!r}") from None
    return (value, numeric_id)


def sort_key(order: Order, time_field: str | None) -> SortKey:
    return (getattr(order, time_field) if time_field else order.id, order.id)


def sort_field(sort: str) -> str | None:
    """The order attribute a ``sortKey`` sorts on (None: the id)."""
    if sort not in SORT_FIELDS:
        raise ListingError(f"not supported by the sandbox: orders(sortKey: {sort})")
    return SORT_FIELDS[sort]


def list_orders(
    state: ShopState,
    criteria: OrderFilter,
    sort: str = "ID",
    reverse: bool = False,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page:
    """One page of orders. ``last``/``before`` page backwards (reverse the walk, then the page)."""
    time_field = sort_field(sort)
    backwards = last is not None and first is None
    size = last if backwards else first
    if size is None:
        raise ListingError("you must provide one of first or last")
    cursor = before if backwards else after
    start = decode_cursor(cursor, time_field) if cursor else None
    entries, more = listed(state, criteria, time_field, reverse != backwards, start, size)
    orders = [built(state, entry) for entry in entries]
    if backwards:
        orders.reverse()
        return Page(orders, time_field, has_next=cursor is not None, has_previous=more)
    return Page(orders, time_field, has_next=more, has_previous=cursor is not None)


def listed(
    state: ShopState,
    criteria: OrderFilter,
    time_field: str | None,
    descending: bool,
    start: SortKey | None,
    size: int,
) -> tuple[list[Entry], bool]:
    """The first ``size`` listed orders past ``start`` in sort order, and whether more follow.

    An entry is an ``Order`` or, when the filter needs no more than the time ranges, a seeded order's index:
    such an order was never mutated and is a pure function of (seed, index), so the caller may build it
    later, outside the lock (``built``), and ``more`` is known without building the order after the page.
    """
    candidates = _candidates(state, criteria, time_field, descending, start)
    entries: list[Entry] = []
    if size > 0:
        for candidate in candidates:
            entry = _entry(state, criteria, candidate)
            if entry is not None:
                entries.append(entry)
                if len(entries) == size:
                    break
    more = any(_entry(state, criteria, candidate) is not None for candidate in candidates)
    return entries, more


def built(state: ShopState, entry: Entry) -> Order:
    """The order of an entry (a seeded one is built: a fresh copy, as ``ShopState.get`` gives)."""
    return entry if isinstance(entry, Order) else state.seeder.build(entry)


def entry_key(state: ShopState, entry: Entry, time_field: str | None) -> SortKey:
    """An entry's sort key, without building a seeded order."""
    if isinstance(entry, Order):
        return sort_key(entry, time_field)
    return _seeded_key_function(state, time_field)(entry)


def _entry(state: ShopState, criteria: OrderFilter, candidate: Entry) -> Entry | None:
    """The entry for a candidate if the order is listed (a seeded index already lies in the time ranges)."""
    if isinstance(candidate, Order):
        return candidate if criteria.matches(candidate) else None
    if candidate in state.deleted:
        return None
    if not criteria.needs_order:
        return candidate
    order = state.seeder.build(candidate)
    return order if criteria.matches(order) else None


def _candidates(
    state: ShopState, criteria: OrderFilter, time_field: str | None, descending: bool, start: SortKey | None
) -> Iterator[Entry]:
    """Seeded indexes (not yet built) and materialized orders, merged in sort order, past the cursor.

    A seeded order's key grows with its index, so the seeded run before each materialized order is found
    by binary search: no key is computed for the indexes in between.
    """
    low, high = _seeded_range(state, criteria, time_field, descending, start)
    key_of = _seeded_key_function(state, time_field)
    materialized = state.materialized
    for key, order in _materialized_keys(state, time_field, descending, start):
        boundary = _first_index(low, high, _later_than(key_of, key))
        if descending:
            run, high = range(high - 1, boundary - 1, -1), boundary
        else:
            run, low = range(low, boundary), boundary
        yield from (index for index in run if index not in materialized)
        yield order
    rest = range(high - 1, low - 1, -1) if descending else range(low, high)
    yield from (index for index in rest if index not in materialized)


def _later_than(key_of: Callable[[int], SortKey], key: SortKey) -> Callable[[int], bool]:
    """The binary-search test "seeded order ``index`` sorts after ``key``" (bound here, not in a loop)."""
    return lambda index: key_of(index) > key


def _materialized_keys(
    state: ShopState, time_field: str | None, descending: bool, start: SortKey | None
) -> list[tuple[SortKey, Order]]:
    keyed = [(sort_key(order, time_field), order) for order in state.materialized.values()]
    keyed = [item for item in keyed if _after(item[0], start, descending)]
    keyed.sort(key=lambda item: item[0], reverse=descending)
    return keyed


def _after(key: SortKey, start: SortKey | None, descending: bool) -> bool:
    if start is None:
        return True
    return key < start if descending else key > start


def _seeded_key_function(state: ShopState, time_field: str | None) -> Callable[[int], SortKey]:
    from sandboxes.shopify import ids

    seeder = state.seeder
    if time_field == "created_at":
        return lambda i: (seeder.created_at(i), ids.order_id(i))
    if time_field == "updated_at":
        return lambda i: (seeder.updated_at(i), ids.order_id(i))
    return lambda i: (ids.order_id(i), ids.order_id(i))


def _seeded_range(
    state: ShopState, criteria: OrderFilter, time_field: str | None, descending: bool, start: SortKey | None
) -> tuple[int, int]:
    """Indexes [low, high) of seeded orders inside the time filters and past the cursor."""
    low, high = 0, state.seeded_count
    for name, bounds in criteria.times.items():
        moment = state.seeder.created_at if name == "created_at" else state.seeder.updated_at
        low, high = _narrow(low, high, moment, bounds)
    if start is not None:
        key_of = _seeded_key_function(state, time_field)
        if descending:
            high = min(high, _first_index(low, high, lambda i: key_of(i) >= start))
        else:
            low = max(low, _first_index(low, high, lambda i: key_of(i) > start))
    return low, max(low, high)


def _narrow(low: int, high: int, moment: Callable[[int], datetime], bounds: Bounds) -> tuple[int, int]:
    if bounds.low is not None:
        edge = bounds.low
        test = (lambda i: moment(i) >= edge) if bounds.low_inclusive else (lambda i: moment(i) > edge)
        low = max(low, _first_index(low, high, test))
    if bounds.high is not None:
        top = bounds.high
        test = (lambda i: moment(i) > top) if bounds.high_inclusive else (lambda i: moment(i) >= top)
        high = min(high, _first_index(low, high, test))
    return low, high


def _first_index(low: int, high: int, test: Callable[[int], bool]) -> int:
    """The first index in [low, high) where the monotonic ``test`` holds (``high`` if none)."""
    while low < high:
        middle = (low + high) // 2
        if test(middle):
            high = middle
        else:
            low = middle + 1
    return low
