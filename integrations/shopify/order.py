"""One typed Shopify order, parsed once from each shape Shopify sends an order in.

- REST JSON (``orders/*`` webhook bodies, ``orders/{id}.json``): :func:`parse_rest_order`;
- a GraphQL ``Order`` node (``OrderFields``, ``OrderForAction``, a bulk export's reassembled rows):
  :func:`parse_graphql_order`.

Both give a :class:`ShopifyOrder`. Money is ``Decimal`` in the shop's currency (``currency`` on the
order, on each refund and transaction), never a float. A field the payload does not carry is ``None``:
"unknown", never a default that would overwrite good data. A REST order never carries ``NOT_IN_REST``
(nor payment transactions: only the refunds' transactions). Enums use GraphQL's spelling
(``PARTIALLY_REFUNDED``, ``CANCEL``), addresses REST's keys (``first_name``, ``country_code``), so the two
shapes of one order parse to equal orders on every field both carry.

This module is on the webhook drain's and the backfill's hot path (100k orders): keep it to dict look-ups
and constructors, no per-field helpers that allocate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

import orjson

__all__ = [
    "LINE_NOT_IN_REST",
    "NOT_IN_REST",
    "REST_UNFULFILLED",
    "OrderPayloadError",
    "ShopifyFulfillmentOrder",
    "ShopifyLineItem",
    "ShopifyOrder",
    "ShopifyRefund",
    "ShopifyTransaction",
    "parse_graphql_order",
    "parse_graphql_transaction",
    "parse_rest_order",
    "parse_rest_refund",
    "parse_rest_transaction",
    "parse_time",
]

#: Order fields a REST payload never carries (always ``None`` when parsed from REST), and the line item's.
NOT_IN_REST = frozenset({"total_refunded", "total_received", "fulfillment_orders"})
LINE_NOT_IN_REST = frozenset({"refundable_quantity"})

#: What REST's ``fulfillment_status: null`` stands for (parsed as ``UNFULFILLED``: REST cannot tell them
#: apart; the mirror keeps the finer status GraphQL gave it). REST prints instants to the second; GraphQL
#: may carry milliseconds.
REST_UNFULFILLED = frozenset({"UNFULFILLED", "IN_PROGRESS", "ON_HOLD", "SCHEDULED", "PENDING_FULFILLMENT", "OPEN"})

#: Fulfillment order statuses after which nothing more is fulfilled from it.
CLOSED_FULFILLMENT_ORDER = frozenset({"CLOSED", "CANCELLED", "INCOMPLETE"})

_ZERO = Decimal(0)
_UTC = dt.UTC
_REST_FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}
#: GraphQL ``MailingAddress`` fields (as ``OrderFields`` selects them) → REST's address keys.
_ADDRESS_KEYS = {
    "name": "name", "firstName": "first_name", "lastName": "last_name", "company": "company",
    "address1": "address1", "address2": "address2", "city": "city", "province": "province",
    "provinceCode": "province_code", "zip": "zip", "country": "country", "countryCodeV2": "country_code",
    "countryCode": "country_code", "phone": "phone",
}  # fmt: skip


class OrderPayloadError(ValueError):
    """The payload is not an order we can read (no id, no updated_at, a time without a zone…): reject it,
    never guess."""


@dataclass(frozen=True, slots=True)
class ShopifyLineItem:
    gid: str
    title: str
    quantity: int
    unit_price: Decimal
    current_quantity: int | None = None
    refundable_quantity: int | None = None
    unfulfilled_quantity: int | None = None
    variant_title: str | None = None
    sku: str | None = None
    vendor: str | None = None
    variant_gid: str | None = None
    product_gid: str | None = None
    total_discount: Decimal = _ZERO
    total_tax: Decimal = _ZERO
    requires_shipping: bool = True


@dataclass(frozen=True, slots=True)
class ShopifyFulfillmentOrder:
    gid: str
    status: str  # OPEN, IN_PROGRESS, ON_HOLD, SCHEDULED, CLOSED, CANCELLED, INCOMPLETE
    request_status: str  # UNSUBMITTED, SUBMITTED, ACCEPTED, CANCELLATION_REQUESTED, …
    assigned_location: str | None = None
    line_items: tuple[dict[str, Any], ...] = ()
    updated_at: dt.datetime | None = None

    @property
    def open(self) -> bool:
        return self.status.upper() not in CLOSED_FULFILLMENT_ORDER


@dataclass(frozen=True, slots=True)
class ShopifyRefund:
    gid: str
    created_at: dt.datetime
    total_refunded: Decimal
    currency: str
    note: str | None = None
    refund_line_items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ShopifyTransaction:
    gid: str
    kind: str  # SALE, CAPTURE, AUTHORIZATION, REFUND, VOID, …
    status: str  # SUCCESS, FAILURE, PENDING, ERROR, …
    amount: Decimal
    currency: str
    gateway: str | None = None
    parent_gid: str | None = None
    processed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ShopifyOrder:
    """An order as Shopify showed it. ``source`` is the reader's label for where it was read (the mirror
    records it: ``webhook``, ``reconcile``…); ``shape`` and ``raw`` say what it was parsed from. The three
    are not part of the order: two shapes of one order compare equal on what both carry."""

    gid: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    currency: str
    source: str = field(default="", compare=False)
    shape: Literal["rest", "graphql"] = field(default="graphql", compare=False)
    #: When Shopify triggered the webhook that carried this version (``X-Shopify-Triggered-At``, to the
    #: millisecond; None when not read from a webhook): orders two webhook versions of one second.
    triggered_at: dt.datetime | None = field(default=None, compare=False)
    legacy_id: int | None = None
    presentment_currency: str | None = None
    subtotal_price: Decimal | None = None
    total_price: Decimal | None = None
    total_tax: Decimal | None = None
    total_shipping: Decimal | None = None
    total_discounts: Decimal | None = None
    total_refunded: Decimal | None = None
    total_outstanding: Decimal | None = None
    total_received: Decimal | None = None
    display_financial_status: str | None = None
    display_fulfillment_status: str | None = None
    cancelled_at: dt.datetime | None = None
    cancel_reason: str | None = None
    closed_at: dt.datetime | None = None
    processed_at: dt.datetime | None = None
    test: bool = False
    tags: tuple[str, ...] = ()
    note_attributes: dict[str, str] = field(default_factory=dict)
    customer_gid: str | None = None
    email: str | None = None
    phone: str | None = None
    customer_name: str | None = None
    shipping_address: dict[str, Any] | None = None
    lines: tuple[ShopifyLineItem, ...] | None = None
    fulfillment_orders: tuple[ShopifyFulfillmentOrder, ...] | None = None
    refunds: tuple[ShopifyRefund, ...] | None = None
    transactions: tuple[ShopifyTransaction, ...] | None = None
    #: The document it was parsed from; or, read in bulk (``serialized_raw``), that document's JSON as
    #: ``orjson.Fragment``: a backfill's batch holds each order in ~3.6 KB instead of ~25 KB of objects.
    raw: dict[str, Any] | orjson.Fragment = field(default_factory=dict, compare=False, repr=False)

    @property
    def from_graphql(self) -> bool:
        """GraphQL carries more than REST: at an equal ``updated_at`` its reading replaces a REST one."""
        return self.shape == "graphql"


# --- scalars ----------------------------------------------------------------------------------


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 instant with a zone (``Z`` or an offset) as UTC; ``None`` for null or empty."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise OrderPayloadError(f"not a timestamp: {value!r}") from exc
    zone = parsed.tzinfo
    if zone is _UTC:
        return parsed
    if zone is None:
        raise OrderPayloadError(f"timestamp without a zone: {value!r}")
    return parsed.astimezone(_UTC)


def _required_time(value: str | None, name: str) -> dt.datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise OrderPayloadError(f"order payload has no {name}")
    return parsed


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(value if type(value) is str else str(value))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _gid(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(t).strip() for t in value if str(t).strip())
    return tuple(t.strip() for t in str(value or "").split(",") if t.strip())


def _upper(value: Any) -> str | None:
    return str(value).upper() if value else None


# --- REST -------------------------------------------------------------------------------------


def parse_rest_order(
    payload: dict[str, Any], source: str = "rest", triggered_at: dt.datetime | None = None
) -> ShopifyOrder:
    """Shopify's REST order JSON (an ``orders/*`` webhook body, ``orders/{id}.json``'s ``order``);
    ``triggered_at``: the webhook's ``X-Shopify-Triggered-At``."""
    gid = payload.get("admin_graphql_api_id") or _gid("Order", payload.get("id"))
    if not gid:
        raise OrderPayloadError("order payload has no id")
    currency = payload.get("currency")
    if not currency:
        raise OrderPayloadError("order payload has no currency")
    customer = payload.get("customer") or {}
    shipping_set = (payload.get("total_shipping_price_set") or {}).get("shop_money") or {}
    status = payload.get("fulfillment_status")
    refunds = payload.get("refunds") or []
    return ShopifyOrder(
        gid=gid,
        legacy_id=_int(payload.get("id")),
        name=str(payload.get("name") or ""),
        created_at=_required_time(payload.get("created_at"), "created_at"),
        updated_at=_required_time(payload.get("updated_at"), "updated_at"),
        currency=currency,
        source=source,
        shape="rest",
        triggered_at=triggered_at,
        presentment_currency=payload.get("presentment_currency"),
        subtotal_price=_money(payload.get("subtotal_price")),
        total_price=_money(payload.get("total_price")),
        total_tax=_money(payload.get("total_tax")),
        total_shipping=_money(shipping_set.get("amount")),
        total_discounts=_money(payload.get("total_discounts")),
        total_outstanding=_money(payload.get("total_outstanding")),
        display_financial_status=_upper(payload.get("financial_status")),
        display_fulfillment_status=_REST_FULFILLMENT.get(status) or str(status).upper(),
        cancelled_at=parse_time(payload.get("cancelled_at")),
        cancel_reason=_upper(payload.get("cancel_reason")),
        closed_at=parse_time(payload.get("closed_at")),
        processed_at=parse_time(payload.get("processed_at")),
        test=bool(payload.get("test")),
        tags=_tags(payload.get("tags")),
        note_attributes={str(a.get("name")): str(a.get("value")) for a in payload.get("note_attributes") or ()},
        customer_gid=customer.get("admin_graphql_api_id") or _gid("Customer", customer.get("id")),
        email=payload.get("email") or customer.get("email"),
        phone=payload.get("phone"),
        customer_name=_rest_full_name(customer),
        shipping_address=payload.get("shipping_address"),
        lines=tuple([_rest_line(li) for li in payload.get("line_items") or ()]),
        refunds=tuple([parse_rest_refund(r, currency) for r in refunds]),
        transactions=_rest_refund_transactions(refunds, currency),
        raw=payload,
    )


def _rest_full_name(customer: dict[str, Any]) -> str | None:
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    return name or customer.get("displayName") or None


def _rest_line(li: dict[str, Any]) -> ShopifyLineItem:
    tax = _ZERO
    for line in li.get("tax_lines") or ():
        tax += _money(line.get("price")) or _ZERO
    return ShopifyLineItem(
        gid=li.get("admin_graphql_api_id") or f"gid://shopify/LineItem/{li['id']}",
        title=str(li.get("title") or ""),
        quantity=int(li.get("quantity") or 0),
        unit_price=_money(li.get("price")) or _ZERO,
        current_quantity=_int(li.get("current_quantity")),
        unfulfilled_quantity=_int(li.get("fulfillable_quantity")),
        variant_title=li.get("variant_title"),
        sku=li.get("sku") or None,
        vendor=li.get("vendor"),
        variant_gid=_gid("ProductVariant", li.get("variant_id")),
        product_gid=_gid("Product", li.get("product_id")),
        total_discount=_money(li.get("total_discount")) or _ZERO,
        total_tax=tax,
        requires_shipping=bool(li.get("requires_shipping", True)),
    )


def parse_rest_refund(refund: dict[str, Any], currency: str) -> ShopifyRefund:
    """A refund's REST JSON (in an order's ``refunds``, or a ``refunds/create`` body). Its total is what
    its successful ``refund`` transactions moved."""
    total = _ZERO
    for txn in refund.get("transactions") or ():
        if str(txn.get("kind")).lower() == "refund" and str(txn.get("status")).lower() == "success":
            total += _money(txn.get("amount")) or _ZERO
    return ShopifyRefund(
        gid=refund.get("admin_graphql_api_id") or f"gid://shopify/Refund/{refund['id']}",
        created_at=_required_time(refund.get("created_at"), "refund created_at"),
        total_refunded=total,
        currency=currency,
        note=refund.get("note"),
        refund_line_items=tuple(
            {
                "line_item_gid": _gid("LineItem", rli.get("line_item_id")),
                "quantity": int(rli.get("quantity") or 0),
                "restock_type": _upper(rli.get("restock_type")),
            }
            for rli in refund.get("refund_line_items") or ()
        ),
    )


def _rest_refund_transactions(refunds: list[dict[str, Any]], currency: str) -> tuple[ShopifyTransaction, ...] | None:
    """Refund transactions are the only transactions a REST order carries.

    ``None`` when there are none: the payload says nothing about payment transactions.
    """
    found = [parse_rest_transaction(t, currency) for r in refunds for t in r.get("transactions") or ()]
    return tuple(found) or None


def parse_rest_transaction(txn: dict[str, Any], currency: str) -> ShopifyTransaction:
    return ShopifyTransaction(
        gid=txn.get("admin_graphql_api_id") or f"gid://shopify/OrderTransaction/{txn['id']}",
        kind=str(txn.get("kind") or "").upper(),
        status=str(txn.get("status") or "").upper(),
        amount=_money(txn.get("amount")) or _ZERO,
        currency=txn.get("currency") or currency,
        gateway=txn.get("gateway"),
        parent_gid=_gid("OrderTransaction", txn.get("parent_id")),
        processed_at=parse_time(txn.get("processed_at") or txn.get("created_at")),
    )


# --- GraphQL ----------------------------------------------------------------------------------


def parse_graphql_order(node: dict[str, Any], source: str = "graphql", *, serialized_raw: bool = False) -> ShopifyOrder:
    """An ``Order`` node. Connections may come as ``nodes``, ``edges`` or a plain list (bulk rows); a
    connection or field not selected stays ``None``. Mirror a node selected with ``OrderFields``.
    ``serialized_raw``: keep the node as its JSON (``ShopifyOrder.raw``), so that the parsed node is freed
    at once."""
    currency = node.get("currencyCode")
    if not node.get("id") or not currency:
        raise OrderPayloadError("order node has no id or currencyCode")
    customer = node.get("customer") or {}
    return ShopifyOrder(
        gid=node["id"],
        legacy_id=_int(node.get("legacyResourceId")),
        name=str(node.get("name") or ""),
        created_at=_required_time(node.get("createdAt"), "createdAt"),
        updated_at=_required_time(node.get("updatedAt"), "updatedAt"),
        currency=currency,
        source=source,
        shape="graphql",
        presentment_currency=node.get("presentmentCurrencyCode"),
        subtotal_price=_shop_money(node.get("subtotalPriceSet")),
        total_price=_shop_money(node.get("totalPriceSet")),
        total_tax=_shop_money(node.get("totalTaxSet")),
        total_shipping=_shop_money(node.get("totalShippingPriceSet")),
        total_discounts=_shop_money(node.get("totalDiscountsSet")),
        total_refunded=_shop_money(node.get("totalRefundedSet")),
        total_outstanding=_shop_money(node.get("totalOutstandingSet")),
        total_received=_shop_money(node.get("totalReceivedSet")),
        display_financial_status=node.get("displayFinancialStatus"),
        display_fulfillment_status=node.get("displayFulfillmentStatus"),
        cancelled_at=parse_time(node.get("cancelledAt")),
        cancel_reason=node.get("cancelReason"),
        closed_at=parse_time(node.get("closedAt")),
        processed_at=parse_time(node.get("processedAt")),
        test=bool(node.get("test")),
        tags=_tags(node.get("tags")),
        note_attributes={str(a["key"]): str(a["value"]) for a in node.get("customAttributes") or ()},
        customer_gid=customer.get("id"),
        email=node.get("email"),
        phone=node.get("phone"),
        customer_name=customer.get("displayName"),
        shipping_address=_graphql_address(node.get("shippingAddress")),
        lines=_each(node, "lineItems", _graphql_line),
        fulfillment_orders=_each(node, "fulfillmentOrders", _graphql_fulfillment_order),
        refunds=_each(node, "refunds", lambda r: _graphql_refund(r, currency)),
        transactions=_each(node, "transactions", lambda t: parse_graphql_transaction(t, currency)),
        raw=orjson.Fragment(orjson.dumps(node)) if serialized_raw else node,
    )


def _shop_money(bag: dict[str, Any] | None) -> Decimal | None:
    if not bag:
        return None
    return _money((bag.get("shopMoney") or {}).get("amount"))


def _graphql_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    keys = _ADDRESS_KEYS
    return {keys.get(k, k): v for k, v in address.items()}


def _nodes(connection: Any) -> list[dict[str, Any]] | None:
    if connection is None:
        return None
    if isinstance(connection, list):
        return connection
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges", ())]


_T = TypeVar("_T")


def _each(node: dict[str, Any], key: str, parse: Callable[[dict[str, Any]], _T]) -> tuple[_T, ...] | None:
    if key not in node:
        return None
    items: Iterable[dict[str, Any]] | None = _nodes(node[key])
    return None if items is None else tuple([parse(item) for item in items])


def _graphql_line(li: dict[str, Any]) -> ShopifyLineItem:
    tax = _ZERO
    for line in li.get("taxLines") or ():
        tax += _shop_money(line.get("priceSet")) or _ZERO
    return ShopifyLineItem(
        gid=li["id"],
        title=str(li.get("title") or ""),
        quantity=int(li.get("quantity") or 0),
        unit_price=_shop_money(li.get("originalUnitPriceSet")) or _ZERO,
        current_quantity=_int(li.get("currentQuantity")),
        refundable_quantity=_int(li.get("refundableQuantity")),
        unfulfilled_quantity=_int(li.get("unfulfilledQuantity")),
        variant_title=li.get("variantTitle"),
        sku=li.get("sku") or None,
        vendor=li.get("vendor"),
        variant_gid=(li.get("variant") or {}).get("id"),
        product_gid=(li.get("product") or {}).get("id"),
        total_discount=_shop_money(li.get("totalDiscountSet")) or _ZERO,
        total_tax=tax,
        requires_shipping=bool(li.get("requiresShipping", True)),
    )


def _graphql_fulfillment_order(fo: dict[str, Any]) -> ShopifyFulfillmentOrder:
    return ShopifyFulfillmentOrder(
        gid=fo["id"],
        status=fo.get("status") or "OPEN",
        request_status=fo.get("requestStatus") or "UNSUBMITTED",
        assigned_location=(fo.get("assignedLocation") or {}).get("name"),
        line_items=tuple(
            {
                "id": li.get("id"),
                "line_item_gid": (li.get("lineItem") or {}).get("id"),
                "total_quantity": li.get("totalQuantity"),
                "remaining_quantity": li.get("remainingQuantity"),
            }
            for li in _nodes(fo.get("lineItems")) or ()
        ),
        updated_at=parse_time(fo.get("updatedAt")),
    )


def _graphql_refund(refund: dict[str, Any], currency: str) -> ShopifyRefund:
    return ShopifyRefund(
        gid=refund["id"],
        created_at=_required_time(refund.get("createdAt"), "refund createdAt"),
        total_refunded=_shop_money(refund.get("totalRefundedSet")) or _ZERO,
        currency=currency,
        note=refund.get("note"),
        refund_line_items=tuple(
            {
                "line_item_gid": (rli.get("lineItem") or {}).get("id"),
                "quantity": int(rli.get("quantity") or 0),
                "restock_type": rli.get("restockType"),
            }
            for rli in _nodes(refund.get("refundLineItems")) or ()
        ),
    )


def parse_graphql_transaction(txn: dict[str, Any], currency: str) -> ShopifyTransaction:
    shop_money = (txn.get("amountSet") or {}).get("shopMoney") or {}
    return ShopifyTransaction(
        gid=txn["id"],
        kind=str(txn.get("kind") or ""),
        status=str(txn.get("status") or ""),
        amount=_money(shop_money.get("amount")) or _ZERO,
        currency=shop_money.get("currencyCode") or currency,
        gateway=txn.get("gateway"),
        parent_gid=(txn.get("parentTransaction") or {}).get("id"),
        processed_at=parse_time(txn.get("processedAt")),
    )
