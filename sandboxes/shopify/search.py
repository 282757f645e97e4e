"""Shopify's search syntax for ``orders(query:)``, the subset dropsync uses.

Supported: ``updated_at``, ``created_at``, ``processed_at`` with ``:``, ``:>``, ``:>=``, ``:<``, ``:<=`` and
ISO dates/times (quoted or not); ``status`` (open, closed, cancelled, not_closed, any); ``financial_status``;
``fulfillment_status`` (shipped/fulfilled, partial, unshipped/unfulfilled, any); ``id`` (exact or range);
``name``; ``tag``; ``return_status`` (no_return, return_requested, in_progress, inspection_complete,
returned, return_failed); a leading ``-`` negates a term; ``AND`` is implied and may be written. Anything else
raises ``SearchError`` (a clear refusal rather than a silently ignored filter).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sandboxes.shopify import ledger
from sandboxes.shopify.model import Order

_TERM = re.compile(r"^(-?)([a-z_]+):(>=|<=|>|<)?(.*)$")
FINANCIAL = {
    "authorized": "AUTHORIZED",
    "pending": "PENDING",
    "paid": "PAID",
    "partially_paid": "PARTIALLY_PAID",
    "refunded": "REFUNDED",
    "partially_refunded": "PARTIALLY_REFUNDED",
    "voided": "VOIDED",
    "expired": "EXPIRED",
}
FULFILLMENT = {
    "shipped": {"FULFILLED"},
    "fulfilled": {"FULFILLED"},
    "partial": {"PARTIALLY_FULFILLED"},
    "unshipped": {"UNFULFILLED", "IN_PROGRESS", "REQUEST_DECLINED", "ON_HOLD", "SCHEDULED"},
    "unfulfilled": {"UNFULFILLED", "IN_PROGRESS", "REQUEST_DECLINED", "ON_HOLD", "SCHEDULED", "PARTIALLY_FULFILLED"},
}
RETURN_STATUSES = (
    "no_return",
    "return_requested",
    "in_progress",
    "inspection_complete",
    "returned",
    "return_failed",
)
TIME_FIELDS = {"updated_at": "updated_at", "created_at": "created_at", "processed_at": "created_at"}


class SearchError(ValueError):
    """The query string uses syntax or a field the sandbox does not support."""


@dataclass
class Bounds:
    """An inclusive/exclusive range on one timestamp (None: open)."""

    low: datetime | None = None
    low_inclusive: bool = True
    high: datetime | None = None
    high_inclusive: bool = True

    def admits(self, value: datetime) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)))


@dataclass
class OrderFilter:
    """A parsed query: time ranges (usable as index ranges) and residual predicates."""

    times: dict[str, Bounds] = field(default_factory=dict)
    predicates: list[Callable[[Order], bool]] = field(default_factory=list)

    def matches(self, order: Order) -> bool:
        for name, bounds in self.times.items():
            if not bounds.admits(getattr(order, name)):
                return False
        return all(predicate(order) for predicate in self.predicates)

    @property
    def needs_order(self) -> bool:
        """True when deciding a match requires building the order (more than time ranges)."""
        return bool(self.predicates)


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; naive values are UTC. Raises ``SearchError``."""
    value = text.strip().strip("'\"")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"invalid date in search query: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_query(query: str | None) -> OrderFilter:
    result = OrderFilter()
    if not query or not query.strip():
        return result
    try:
        words = shlex.split(query)
    except ValueError as exc:
        raise SearchError(f"invalid search query: {exc}") from None
    for word in words:
        if word.upper() == "AND":
            continue
        if word.upper() == "OR":
            raise SearchError("not supported by the sandbox: OR in orders(query:)")
        _add_term(result, word)
    return result


def _add_term(result: OrderFilter, word: str) -> None:
    match = _TERM.match(word)
    if not match:
        raise SearchError(f"not supported by the sandbox: free-text search term {word!r} in orders(query:)")
    negate, name, operator, value = match.group(1) == "-", match.group(2), match.group(3) or "", match.group(4)
    if name in TIME_FIELDS and not negate:
        _add_time(result.times.setdefault(TIME_FIELDS[name], Bounds()), operator, parse_time(value))
        return
    predicate = _predicate(name, operator, value.strip("'\""))
    result.predicates.append((lambda order: not predicate(order)) if negate else predicate)


def _add_time(bounds: Bounds, operator: str, moment: datetime) -> None:
    if operator in (">", ">="):
        bounds.low, bounds.low_inclusive = moment, operator == ">="
    elif operator in ("<", "<="):
        bounds.high, bounds.high_inclusive = moment, operator == "<="
    else:
        bounds.low = bounds.high = moment


def _predicate(name: str, operator: str, value: str) -> Callable[[Order], bool]:
    lowered = value.lower()
    if name == "status":
        return _status_predicate(lowered)
    if name == "financial_status" and lowered in FINANCIAL:
        wanted = FINANCIAL[lowered]
        return lambda order: ledger.financial_status(order) == wanted
    if name == "fulfillment_status" and lowered in (*FULFILLMENT, "any"):
        statuses = FULFILLMENT.get(lowered)
        return lambda order: statuses is None or ledger.fulfillment_status(order) in statuses
    if name == "id" and value.isdigit():
        return _id_predicate(operator, int(value))
    if name == "name":
        wanted_name = value if value.startswith("#") else f"#{value}"
        return lambda order: order.name == wanted_name
    if name == "tag":
        return lambda order: lowered in (tag.lower() for tag in order.tags)
    if name == "return_status" and lowered in RETURN_STATUSES:
        from sandboxes.shopify.returns import order_return_status

        wanted_return = lowered.upper()
        return lambda order: order_return_status(order) == wanted_return
    raise SearchError(f"not supported by the sandbox: orders(query:) filter {name}:{operator}{value}")


def _status_predicate(value: str) -> Callable[[Order], bool]:
    checks: dict[str, Callable[[Order], bool]] = {
        "open": lambda o: o.closed_at is None and o.cancelled_at is None,
        "closed": lambda o: o.closed_at is not None,
        "cancelled": lambda o: o.cancelled_at is not None,
        "not_closed": lambda o: o.closed_at is None,
        "any": lambda o: True,
    }
    if value not in checks:
        raise SearchError(f"not supported by the sandbox: orders(query:) status:{value}")
    return checks[value]


def _id_predicate(operator: str, wanted: int) -> Callable[[Order], bool]:
    compare: dict[str, Callable[[int], bool]] = {
        "": lambda v: v == wanted,
        ">": lambda v: v > wanted,
        ">=": lambda v: v >= wanted,
        "<": lambda v: v < wanted,
        "<=": lambda v: v <= wanted,
    }
    check = compare[operator]
    return lambda order: check(order.id)
