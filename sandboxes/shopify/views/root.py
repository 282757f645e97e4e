"""``QueryRoot``: orders, order, node, fulfillmentOrder, job, bulk operations, webhook subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sandboxes.shopify import disputes, ids
from sandboxes.shopify.disputes import DisputeEvidenceView, DisputeView
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.listing import ListingError, list_orders
from sandboxes.shopify.model import Order
from sandboxes.shopify.search import SearchError, parse_query
from sandboxes.shopify.views.base import REGISTRY, Connection, View
from sandboxes.shopify.views.fulfillment import FulfillmentOrderView, FulfillmentView
from sandboxes.shopify.views.items import LineItemView
from sandboxes.shopify.views.money import RefundView, TransactionView
from sandboxes.shopify.views.orders import OrderView
from sandboxes.shopify.views.records import (
    bulk_operation_view,
    current_bulk_operation,
    job_view,
    record_node,
    webhook_subscriptions,
)
from sandboxes.shopify.views.sync import QueryRootSyncFields, ShopSyncFields

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState

MAX_PAGE = 250


_V = TypeVar("_V", bound=View)


class QueryRoot(QueryRootSyncFields, View):
    typename = "QueryRoot"

    def __init__(self, state: ShopState) -> None:
        self._state = state

    def orders(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        query: str | None = None,
        sortKey: str = "ID",
        reverse: bool = False,
        savedSearchId: str | None = None,
    ) -> Connection:
        _check_page_size(first, last)
        if savedSearchId is not None:
            raise ShopifyError("not supported by the sandbox: orders(savedSearchId:)", "NOT_SUPPORTED")
        try:
            criteria = parse_query(query)
            page = list_orders(self._state, criteria, sortKey, reverse, first, after, last, before)
        except (SearchError, ListingError) as exc:
            raise ShopifyError(str(exc), "BAD_REQUEST") from None
        items = [(OrderView(self._state, order), page.cursor(position)) for position, order in enumerate(page.orders)]
        return Connection(items, page.has_next, page.has_previous)

    def ordersCount(self, query: str | None = None, limit: int | None = 10000) -> dict[str, Any]:
        try:
            criteria = parse_query(query)
        except SearchError as exc:
            raise ShopifyError(str(exc), "BAD_REQUEST") from None
        cap = limit if limit is not None else self._state.total_count
        if not criteria.times and not criteria.needs_order:
            total = self._state.total_count - len(self._state.deleted)
            return {"count": min(total, cap), "precision": "AT_LEAST" if total > cap else "EXACT"}
        count = 0
        for index in range(self._state.total_count):
            order = self._state.get(index)
            if order is not None and criteria.matches(order):
                count += 1
                if count >= cap:
                    return {"count": count, "precision": "AT_LEAST"}
        return {"count": count, "precision": "EXACT"}

    def shop(self) -> ShopView:
        return ShopView(self._state)

    def order(self, id: str) -> OrderView | None:
        found = self._state_lookup(id, "Order")
        return OrderView(self._state, found[0]) if found else None

    def fulfillmentOrder(self, id: str) -> FulfillmentOrderView | None:
        return self._node_of(id, FulfillmentOrderView)

    def fulfillment(self, id: str) -> FulfillmentView | None:
        return self._node_of(id, FulfillmentView)

    def refund(self, id: str) -> RefundView | None:
        return self._node_of(id, RefundView)

    def _node_of(self, id: str, kind: type[_V]) -> _V | None:
        """The node ``id`` if it is of ``kind`` (a root field typed by its object, as ``refund(id:)``)."""
        view = self.node(id)
        return view if isinstance(view, kind) else None

    def node(self, id: str) -> View | None:
        return resolve_node(self._state, id)

    def nodes(self, ids: list[str]) -> list[View | None]:
        return [resolve_node(self._state, value) for value in ids]

    def job(self, id: str) -> Any:
        return job_view(self._state, id)

    def bulkOperation(self, id: str) -> Any:
        return bulk_operation_view(self._state, id)

    def currentBulkOperation(self, type: str = "QUERY") -> Any:
        return current_bulk_operation(self._state, type)

    def dispute(self, id: str) -> DisputeView | None:
        found = disputes.find(self._state, id) if id.startswith("gid://shopify/ShopifyPaymentsDispute/") else None
        return DisputeView(self._state, found) if found is not None else None

    def disputeEvidence(self, id: str) -> DisputeEvidenceView | None:
        found = (
            disputes.find(self._state, id) if id.startswith("gid://shopify/ShopifyPaymentsDisputeEvidence/") else None
        )
        return DisputeEvidenceView(self._state, found) if found is not None else None

    def disputes(
        self, first: int | None = None, after: str | None = None, last: int | None = None,
        before: str | None = None, query: str | None = None, reverse: bool = False,
    ) -> Connection:  # fmt: skip
        _check_page_size(first, last)
        return disputes.listing(self._state, query, first, after, last, before, reverse)

    def webhookSubscriptions(
        self, topics: list[str] | None = None, uri: str | None = None, callbackUrl: str | None = None, **page: Any
    ) -> Connection:
        return webhook_subscriptions(self._state, topics, uri or callbackUrl, **page)

    def webhookSubscription(self, id: str) -> Any:
        view = self.node(id)
        return view if view is not None and view.typename == "WebhookSubscription" else None

    def _state_lookup(self, value: str, kind: str) -> tuple[Order, int] | None:
        parsed = _split_gid(value)
        if parsed is None or parsed[0] != kind:
            return None
        index = ids.order_index_of(kind, parsed[1])
        order = self._state.get(index) if index is not None else None
        return (order, parsed[1]) if order is not None else None


class ShopView(ShopSyncFields, View):
    typename = "Shop"

    def __init__(self, state: ShopState) -> None:
        self._config = state.config

    def id(self) -> str:
        return "gid://shopify/Shop/60000000001"

    def name(self) -> str:
        return self._config.shop_domain.split(".", 1)[0].replace("-", " ").title()

    def myshopifyDomain(self) -> str:
        return self._config.shop_domain

    def email(self) -> str:
        return f"owner@{self._config.shop_domain}"

    def currencyCode(self) -> str:
        return self._config.shop_currency

    def enabledPresentmentCurrencies(self) -> list[str]:
        return ["AUD", "CAD", "EUR", "GBP", "USD"]

    def ianaTimezone(self) -> str:
        return "UTC"

    def plan(self) -> dict[str, Any]:
        names = {"standard": "Basic", "advanced": "Advanced", "plus": "Shopify Plus", "enterprise": "Enterprise"}
        name = names[self._config.plan]
        return {
            "displayName": name,
            "publicDisplayName": name,
            "partnerDevelopment": False,
            "shopifyPlus": self._config.plan in ("plus", "enterprise"),
        }


def _check_page_size(first: int | None, last: int | None) -> None:
    if first is None and last is None:
        raise ShopifyError("you must provide one of first or last", "BAD_REQUEST")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise ShopifyError(f"The '{name}' argument must be between 0 and {MAX_PAGE}", "BAD_REQUEST")


def _split_gid(value: str) -> tuple[str, int] | None:
    parts = value.split("?", 1)[0].split("/")
    if len(parts) != 5 or parts[:3] != ["gid:", "", "shopify"] or not parts[4].isdigit():
        return None
    return parts[3], int(parts[4])


def resolve_node(state: ShopState, value: str) -> View | None:
    """The view for any supported global id (orders and their children, jobs, bulk operations ...)."""
    parsed = _split_gid(value)
    if parsed is None:
        raise ShopifyError(f"Invalid global id '{value}'", "BAD_REQUEST")
    kind, numeric_id = parsed
    if kind in ("Job", "BulkOperation", "WebhookSubscription"):
        return record_node(state, kind, value)
    index = ids.order_index_of(kind, numeric_id)
    order = state.get(index) if index is not None else None
    if order is None:
        return None
    return _child_view(state, order, kind, numeric_id)


def _child_view(state: ShopState, order: Order, kind: str, numeric_id: int) -> View | None:
    if kind == "Order":
        return OrderView(state, order) if order.id == numeric_id else None
    finders: dict[str, Any] = {
        "LineItem": lambda: next((LineItemView(order, i) for i in order.line_items if i.id == numeric_id), None),
        "FulfillmentOrder": lambda: next(
            (FulfillmentOrderView(state, order, fo) for fo in order.fulfillment_orders if fo.id == numeric_id), None
        ),
        "Fulfillment": lambda: next(
            (FulfillmentView(state, order, f) for f in order.fulfillments if f.id == numeric_id), None
        ),
        "Refund": lambda: next((RefundView(state, order, r) for r in order.refunds if r.id == numeric_id), None),
        "OrderTransaction": lambda: _transaction(state, order, numeric_id),
        **_return_finders(state, order, kind, numeric_id),
    }
    finder = finders.get(kind)
    return finder() if finder else None


def _return_finders(state: ShopState, order: Order, kind: str, numeric_id: int) -> dict[str, Any]:
    """Finders for a return and its parts (only built when ``kind`` is one of them)."""
    from sandboxes.shopify.views import returns as views

    if kind not in ("Return", "ReturnLineItem", "ReverseFulfillmentOrder", "ReverseFulfillmentOrderLineItem"):
        return {}
    pairs = [(r, line) for r in order.returns for line in r.lines]
    return {
        "Return": lambda: next((views.ReturnView(state, order, r) for r in order.returns if r.id == numeric_id), None),
        "ReturnLineItem": lambda: next(
            (views.ReturnLineItemView(order, r, line) for r, line in pairs if line.id == numeric_id), None
        ),
        "ReverseFulfillmentOrder": lambda: next(
            (
                views.ReverseFulfillmentOrderView(state, order, r)
                for r in order.returns
                if r.reverse_fulfillment_order_id == numeric_id and r.reverse_status is not None
            ),
            None,
        ),
        "ReverseFulfillmentOrderLineItem": lambda: next(
            (
                views.ReverseFulfillmentOrderLineItemView(order, line)
                for r, line in pairs
                if line.reverse_line_id == numeric_id and r.reverse_status is not None
            ),
            None,
        ),
    }


def _return_root(self: QueryRoot, id: str) -> View | None:
    """``QueryRoot.return(id:)`` (``return`` is a Python keyword: attached by name below)."""
    view = resolve_node(self._state, id)
    return view if view is not None and view.typename == "Return" else None


setattr(QueryRoot, "return", _return_root)
REGISTRY["QueryRoot"].add("return")


def _transaction(state: ShopState, order: Order, numeric_id: int) -> View | None:
    transaction = order.transaction(numeric_id)
    return TransactionView(state, order, transaction) if transaction else None
