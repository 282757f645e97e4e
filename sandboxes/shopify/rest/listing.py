"""``orders.json``'s filters, sort and cursor pages (``page_info``), over the same listing as GraphQL's.

Shopify's REST cursor pagination: the first request carries the filters; the answer's ``Link`` header
holds ``page_info`` tokens for ``rel="next"`` and ``rel="previous"``; a request with ``page_info`` accepts
only ``limit`` and ``fields`` (the token carries everything else). Here a token is base64url JSON of the
original filters, the sort, the sort key of the page's edge order and the direction, so a page never
repeats or skips an order whatever changes in between (keyset, like ``listing.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandboxes.shopify import ledger
from sandboxes.shopify.listing import SortKey, built, entry_key, listed
from sandboxes.shopify.model import Order
from sandboxes.shopify.search import FINANCIAL, FULFILLMENT, OrderFilter, SearchError, parse_time

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
TIME_PARAMS = {
    "created_at_min": ("created_at", True),
    "created_at_max": ("created_at", False),
    "updated_at_min": ("updated_at", True),
    "updated_at_max": ("updated_at", False),
    "processed_at_min": ("created_at", True),
    "processed_at_max": ("created_at", False),
}
FILTER_PARAMS = frozenset({*TIME_PARAMS, "status", "financial_status", "fulfillment_status", "since_id", "ids", "name"})
REFUSED_PARAMS = frozenset({"attribution_app_id"})
SORTS = {"id": None, "created_at": "created_at", "processed_at": "created_at", "updated_at": "updated_at"}
STATUS: dict[str, Callable[[Order], bool]] = {
    "open": lambda o: o.closed_at is None and o.cancelled_at is None,
    "closed": lambda o: o.closed_at is not None,
    "cancelled": lambda o: o.cancelled_at is not None,
    "any": lambda o: True,
}


class RestParamError(ValueError):
    """A bad query parameter: ``param`` names it, the message is shown under ``errors``."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class OrderQuery:
    """What an ``orders.json`` request asks for, before the page boundary."""

    filters: dict[str, str]
    sort: str  # e.g. "created_at desc"

    @property
    def time_field(self) -> str | None:
        return SORTS[self.sort.split()[0]]

    @property
    def descending(self) -> bool:
        return self.sort.endswith(" desc")

    def criteria(self) -> OrderFilter:
        return order_filter(self.filters)


@dataclass
class RestPage:
    orders: list[Order]
    has_previous: bool
    has_next: bool
    first_key: SortKey | None
    last_key: SortKey | None


def parse_limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise RestParamError("limit", f"must be an integer between 1 and {MAX_LIMIT}")
    return int(raw)


def parse_fields(params: Mapping[str, str]) -> list[str] | None:
    raw = params.get("fields")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return names or None


def query_from_params(params: Mapping[str, str], default_status: str = "open") -> OrderQuery:
    """The filters and sort of a first-page request (validated: a bad value raises ``RestParamError``)."""
    refused = REFUSED_PARAMS & set(params)
    if refused:
        name = sorted(refused)[0]
        raise RestParamError(name, f"not supported by the sandbox: orders.json {name}")
    filters = {name: params[name] for name in FILTER_PARAMS if name in params}
    filters.setdefault("status", default_status)
    order_filter(filters)  # validates every value now, so a bad one is refused before any page
    sort = params.get("order") or ("id asc" if "since_id" in filters else "created_at desc")
    words = sort.lower().split()
    if len(words) == 1:
        words.append("asc")
    if len(words) != 2 or words[0] not in SORTS or words[1] not in ("asc", "desc"):
        raise RestParamError("order", f"invalid sort {sort!r}: one of {', '.join(SORTS)} with asc or desc")
    return OrderQuery(filters, " ".join(words))


def order_filter(filters: Mapping[str, str]) -> OrderFilter:
    """The listing filter for REST parameters (time ranges kept as ranges: cheap on seeded orders)."""
    criteria = OrderFilter()
    for name, (field_name, is_low) in TIME_PARAMS.items():
        if name in filters:
            _bound(criteria, name, field_name, is_low, filters[name])
    for name in ("status", "financial_status", "fulfillment_status", "since_id", "ids", "name"):
        if name in filters:
            criteria.predicates.append(_predicate(name, filters[name]))
    return criteria


def parse_time_param(name: str, raw: str) -> datetime:
    try:
        return parse_time(raw)
    except SearchError:
        raise RestParamError(name, f"invalid date {raw!r} (ISO 8601, e.g. 2026-10-01T00:00:00-04:00)") from None


def _bound(criteria: OrderFilter, name: str, field_name: str, is_low: bool, raw: str) -> None:
    from sandboxes.shopify.search import Bounds

    moment = parse_time_param(name, raw)
    bounds = criteria.times.setdefault(field_name, Bounds())
    if is_low:
        bounds.low = moment if bounds.low is None else max(bounds.low, moment)
    else:
        bounds.high = moment if bounds.high is None else min(bounds.high, moment)


def _predicate(name: str, raw: str) -> Callable[[Order], bool]:
    value = raw.strip().lower()
    if name == "status":
        if value not in STATUS:
            raise RestParamError(name, f"must be one of {', '.join(STATUS)}")
        return STATUS[value]
    if name == "financial_status":
        return _financial(value)
    if name == "fulfillment_status":
        return _fulfillment(value)
    if name == "name":
        wanted = raw.strip() if raw.strip().startswith("#") else f"#{raw.strip()}"
        return lambda order: order.name == wanted
    numbers = [part.strip() for part in raw.split(",") if part.strip()]
    if not numbers or not all(part.isdigit() for part in numbers) or (name == "since_id" and len(numbers) > 1):
        raise RestParamError(name, "must be an order id" if name == "since_id" else "must be comma-separated ids")
    if name == "since_id":
        since = int(numbers[0])
        return lambda order: order.id > since
    wanted_ids = {int(part) for part in numbers}
    return lambda order: order.id in wanted_ids


def _financial(value: str) -> Callable[[Order], bool]:
    if value == "any":
        return lambda order: True
    if value == "unpaid":
        return lambda order: ledger.financial_status(order) in ("AUTHORIZED", "PENDING")
    if value not in FINANCIAL:
        raise RestParamError("financial_status", f"must be one of any, unpaid, {', '.join(FINANCIAL)}")
    wanted = FINANCIAL[value]
    return lambda order: ledger.financial_status(order) == wanted


def _fulfillment(value: str) -> Callable[[Order], bool]:
    if value == "any":
        return lambda order: True
    if value not in FULFILLMENT:
        raise RestParamError("fulfillment_status", f"must be one of any, {', '.join(FULFILLMENT)}")
    statuses = FULFILLMENT[value]
    return lambda order: ledger.fulfillment_status(order) in statuses


def _start(query: OrderQuery) -> SortKey | None:
    """Where a first page starts: ``since_id`` on an ascending id sort skips ahead without building orders."""
    since = query.filters.get("since_id")
    if since is not None and query.sort == "id asc":
        return (int(since), int(since))
    return None


def first_page(state: Any, query: OrderQuery, limit: int) -> RestPage:
    return _walk(state, query, _start(query), backwards=False, limit=limit, from_token=False)


def page_at(state: Any, token: PageToken, limit: int) -> RestPage:
    return _walk(state, token.query, token.key, backwards=token.direction == "previous", limit=limit, from_token=True)


def _walk(
    state: Any, query: OrderQuery, start: SortKey | None, backwards: bool, limit: int, from_token: bool
) -> RestPage:
    time_field = query.time_field
    entries, more = listed(state, query.criteria(), time_field, query.descending != backwards, start, limit)
    if backwards:
        entries.reverse()
    keys = [entry_key(state, entry, time_field) for entry in entries]
    orders = [built(state, entry) for entry in entries]
    has_previous, has_next = (more, from_token) if backwards else (from_token, more)
    return RestPage(orders, has_previous, has_next, keys[0] if keys else None, keys[-1] if keys else None)


def encode_token(content: dict[str, Any]) -> str:
    """An opaque ``page_info``: unpadded base64url of compact JSON (safe in a ``Link`` URL as it is)."""
    text = json.dumps(content, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """The content of an ``encode_token`` string; ``RestParamError`` when it is not one."""
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise RestParamError("page_info", "Invalid value.") from None
    if not isinstance(content, dict):
        raise RestParamError("page_info", "Invalid value.")
    return content


@dataclass(frozen=True)
class PageToken:
    """A decoded ``page_info``: the original query, the edge sort key and which way to walk from it."""

    query: OrderQuery
    key: SortKey
    direction: str  # "next" or "previous"

    def encode(self) -> str:
        value, numeric_id = self.key
        shown = value.isoformat() if isinstance(value, datetime) else value
        return encode_token(
            {"f": self.query.filters, "o": self.query.sort, "k": [shown, numeric_id], "d": self.direction}
        )

    @classmethod
    def decode(cls, token: str) -> PageToken:
        try:
            raw = decode_token(token)
            query = OrderQuery({str(k): str(v) for k, v in dict(raw["f"]).items()}, str(raw["o"]))
            time_field = query.time_field
            value, numeric_id = raw["k"]
            key = (datetime.fromisoformat(value) if time_field else int(value), int(numeric_id))
            direction = str(raw["d"])
            order_filter(query.filters)
        except (ValueError, KeyError, TypeError, IndexError, binascii.Error, RestParamError):
            raise RestParamError("page_info", "Invalid value.") from None
        if direction not in ("next", "previous"):
            raise RestParamError("page_info", "Invalid value.")
        return cls(query, key, direction)


def count_orders(state: Any, criteria: OrderFilter) -> int:
    """How many orders match (every seeded order in the time ranges is built only when a predicate needs it)."""
    entries, _ = listed(state, criteria, None, False, None, max(state.total_count, 1))
    return len(entries)
