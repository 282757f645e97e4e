"""Keyset pagination over all orders, sorted and filtered, without building orders that are not needed.

Two sorted streams are merged: seeded orders never mutated (ordered by index; every supported sort key
increases with the index, so cursors and time ranges become index ranges by binary search) and
materialized orders (sorted on demand). A cursor is ``base64(json({"last_id", "last_value"}))`` like
Shopify's; the next page starts strictly after that (value, id), so an order is never returned twice under
a stable key and updates to other orders do not shift pages.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.shopify.sandbox.model import Order
from integrations.shopify.sandbox.search import Bounds, OrderFilter
from integrations.shopify.sandbox.state import ShopState

SORT_FIELDS = {
    "ID": None,
    "ORDER_NUMBER": None,
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "created_at",
    "UPDATED_AT": "updated_at",
}
SortKey = tuple[Any, int]


class ListingError(ValueError):
    """Bad pagination arguments (the message is shown to the API caller)."""


@dataclass
class Page:
    orders: list[tuple[Order, str]]
    has_next: bool
    has_previous: bool


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
    if sort not in SORT_FIELDS:
        raise ListingError(f"not supported by the sandbox: orders(sortKey: {sort})")
    time_field = SORT_FIELDS[sort]
    backwards = last is not None and first is None
    size = last if backwards else first
    if size is None:
        raise ListingError("you must provide one of first or last")
    cursor = before if backwards else after
    start = decode_cursor(cursor, time_field) if cursor else None
    descending = reverse != backwards
    stream = _merged(state, criteria, time_field, descending, start)
    taken = list(itertools.islice(stream, size + 1))
    more = len(taken) > size
    page = [(order, encode_cursor(*sort_key(order, time_field))) for order in taken[:size]]
    if backwards:
        page.reverse()
        return Page(page, has_next=cursor is not None, has_previous=more)
    return Page(page, has_next=more, has_previous=cursor is not None)


def _merged(
    state: ShopState, criteria: OrderFilter, time_field: str | None, descending: bool, start: SortKey | None
) -> Iterator[Order]:
    seeded = _seeded_stream(state, criteria, time_field, descending, start)
    changed = _materialized_stream(state, criteria, time_field, descending, start)
    merged = heapq.merge(seeded, changed, key=lambda pair: pair[0], reverse=descending)
    for _, order_or_index in merged:
        order = order_or_index if isinstance(order_or_index, Order) else state.get(order_or_index)
        if order is not None and criteria.matches(order):
            yield order


def _materialized_stream(
    state: ShopState, criteria: OrderFilter, time_field: str | None, descending: bool, start: SortKey | None
) -> Iterator[tuple[SortKey, Order | int]]:
    keyed = [(sort_key(order, time_field), order) for order in state.materialized.values()]
    keyed = [item for item in keyed if _after(item[0], start, descending)]
    keyed.sort(key=lambda item: item[0], reverse=descending)
    yield from keyed


def _after(key: SortKey, start: SortKey | None, descending: bool) -> bool:
    if start is None:
        return True
    return key < start if descending else key > start


def _seeded_stream(
    state: ShopState, criteria: OrderFilter, time_field: str | None, descending: bool, start: SortKey | None
) -> Iterator[tuple[SortKey, Order | int]]:
    low, high = _seeded_range(state, criteria, time_field, descending, start)
    key_of = _seeded_key_function(state, time_field)
    indexes = range(high - 1, low - 1, -1) if descending else range(low, high)
    materialized = state.materialized
    for index in indexes:
        if index not in materialized:
            yield key_of(index), index


def _seeded_key_function(state: ShopState, time_field: str | None) -> Callable[[int], SortKey]:
    from integrations.shopify.sandbox import ids

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
