"""One shape for an order as Shopify showed it, whatever channel it came through.

A webhook carries Shopify's REST order JSON; reconciliation and backfill carry GraphQL nodes. Both are
normalised into ``OrderSnapshot``. A field a channel does not carry is ``None`` ("unknown: keep what the
ledger has"), never a default that would overwrite good data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ORDER_GID = "gid://shopify/Order/"

#: Where a snapshot came from. GraphQL snapshots carry more than REST webhooks: at an equal
#: ``updatedAt`` a GraphQL snapshot replaces a webhook's, never the other way round.
GRAPHQL_SOURCES = frozenset({"reconcile", "backfill", "action"})

_REST_FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}


@dataclass(frozen=True, slots=True)
class LineSnap:
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
    total_discount: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    requires_shipping: bool = True


@dataclass(frozen=True, slots=True)
class FulfillmentOrderSnap:
    gid: str
    status: str
    request_status: str
    assigned_location: str | None = None
    line_items: tuple[dict[str, Any], ...] = ()
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundSnap:
    gid: str
    created_at: dt.datetime
    total_refunded: Decimal
    currency: str
    note: str | None = None
    refund_line_items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class TransactionSnap:
    gid: str
    kind: str
    status: str
    amount: Decimal
    currency: str
    gateway: str | None = None
    parent_gid: str | None = None
    processed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    gid: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    currency: str
    source: str
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
    lines: tuple[LineSnap, ...] | None = None
    fulfillment_orders: tuple[FulfillmentOrderSnap, ...] | None = None
    refunds: tuple[RefundSnap, ...] | None = None
    transactions: tuple[TransactionSnap, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def from_graphql(self) -> bool:
        return self.source in GRAPHQL_SOURCES


class SnapshotError(ValueError):
    """The payload is not an order we can read (missing id, updated_at, …): reject, never guess."""


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise SnapshotError(f"timestamp without a zone: {value!r}")
    return parsed.astimezone(dt.UTC)


def _required_time(value: str | None, name: str) -> dt.datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise SnapshotError(f"order payload has no {name}")
    return parsed


def money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _gid(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


# --- REST (webhook) payloads ------------------------------------------------------------------


def from_rest(payload: dict[str, Any], source: str = "webhook") -> OrderSnapshot:
    """An ``orders/*`` webhook body (Shopify's REST order JSON)."""
    gid = payload.get("admin_graphql_api_id") or _gid("Order", payload.get("id"))
    if not gid:
        raise SnapshotError("order payload has no id")
    currency = payload.get("currency")
    if not currency:
        raise SnapshotError("order payload has no currency")
    customer = payload.get("customer") or {}
    shipping_set = (payload.get("total_shipping_price_set") or {}).get("shop_money") or {}
    status = payload.get("fulfillment_status")
    return OrderSnapshot(
        gid=gid,
        legacy_id=_int(payload.get("id")),
        name=str(payload.get("name") or ""),
        created_at=_required_time(payload.get("created_at"), "created_at"),
        updated_at=_required_time(payload.get("updated_at"), "updated_at"),
        currency=currency,
        source=source,
        presentment_currency=payload.get("presentment_currency"),
        subtotal_price=money(payload.get("subtotal_price")),
        total_price=money(payload.get("total_price")),
        total_tax=money(payload.get("total_tax")),
        total_shipping=money(shipping_set.get("amount")),
        total_discounts=money(payload.get("total_discounts")),
        total_outstanding=money(payload.get("total_outstanding")),
        display_financial_status=(payload.get("financial_status") or "").upper() or None,
        display_fulfillment_status=_REST_FULFILLMENT.get(status, str(status).upper()),
        cancelled_at=parse_time(payload.get("cancelled_at")),
        cancel_reason=(payload.get("cancel_reason") or "").upper() or None,
        closed_at=parse_time(payload.get("closed_at")),
        processed_at=parse_time(payload.get("processed_at")),
        test=bool(payload.get("test")),
        tags=_tags(payload.get("tags")),
        note_attributes={str(a.get("name")): str(a.get("value")) for a in payload.get("note_attributes") or []},
        customer_gid=customer.get("admin_graphql_api_id") or _gid("Customer", customer.get("id")),
        email=payload.get("email") or customer.get("email"),
        phone=payload.get("phone"),
        customer_name=_full_name(customer),
        shipping_address=payload.get("shipping_address"),
        lines=tuple(_rest_line(li) for li in payload.get("line_items") or []),
        refunds=tuple(rest_refund(r, currency) for r in payload.get("refunds") or []),
        transactions=_rest_refund_transactions(payload.get("refunds") or [], currency),
        raw=payload,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(t).strip() for t in value if str(t).strip())
    return tuple(t.strip() for t in str(value or "").split(",") if t.strip())


def _full_name(customer: dict[str, Any]) -> str | None:
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    return name or customer.get("displayName") or None


def _rest_line(li: dict[str, Any]) -> LineSnap:
    tax = sum((money(t.get("price")) or Decimal(0) for t in li.get("tax_lines") or []), Decimal(0))
    return LineSnap(
        gid=li.get("admin_graphql_api_id") or f"gid://shopify/LineItem/{li['id']}",
        title=str(li.get("title") or ""),
        quantity=int(li.get("quantity") or 0),
        unit_price=money(li.get("price")) or Decimal(0),
        current_quantity=_int(li.get("current_quantity")),
        unfulfilled_quantity=_int(li.get("fulfillable_quantity")),
        variant_title=li.get("variant_title"),
        sku=li.get("sku") or None,
        vendor=li.get("vendor"),
        variant_gid=_gid("ProductVariant", li.get("variant_id")),
        product_gid=_gid("Product", li.get("product_id")),
        total_discount=money(li.get("total_discount")) or Decimal(0),
        total_tax=tax,
        requires_shipping=bool(li.get("requires_shipping", True)),
    )


def rest_refund(refund: dict[str, Any], currency: str) -> RefundSnap:
    transactions = refund.get("transactions") or []
    total = sum(
        (money(t.get("amount")) or Decimal(0) for t in transactions if _successful_refund(t)),
        Decimal(0),
    )
    return RefundSnap(
        gid=refund.get("admin_graphql_api_id") or f"gid://shopify/Refund/{refund['id']}",
        created_at=_required_time(refund.get("created_at"), "refund created_at"),
        total_refunded=total,
        currency=currency,
        note=refund.get("note"),
        refund_line_items=tuple(
            {
                "line_item_gid": _gid("LineItem", rli.get("line_item_id")),
                "quantity": int(rli.get("quantity") or 0),
                "restock_type": str(rli.get("restock_type") or "").upper() or None,
            }
            for rli in refund.get("refund_line_items") or []
        ),
    )


def _successful_refund(txn: dict[str, Any]) -> bool:
    return str(txn.get("kind")).lower() == "refund" and str(txn.get("status")).lower() == "success"


def _rest_refund_transactions(refunds: list[dict[str, Any]], currency: str) -> tuple[TransactionSnap, ...] | None:
    """Refund transactions are the only transactions a REST order payload carries.

    ``None`` when there are none: the payload says nothing about payment transactions, so the ledger's
    must stay as they are.
    """
    found = [rest_transaction(t, currency) for r in refunds for t in r.get("transactions") or []]
    return tuple(found) or None


def rest_transaction(txn: dict[str, Any], currency: str) -> TransactionSnap:
    return TransactionSnap(
        gid=txn.get("admin_graphql_api_id") or f"gid://shopify/OrderTransaction/{txn['id']}",
        kind=str(txn.get("kind") or "").upper(),
        status=str(txn.get("status") or "").upper(),
        amount=money(txn.get("amount")) or Decimal(0),
        currency=txn.get("currency") or currency,
        gateway=txn.get("gateway"),
        parent_gid=_gid("OrderTransaction", txn.get("parent_id")),
        processed_at=parse_time(txn.get("processed_at") or txn.get("created_at")),
    )


# --- GraphQL nodes (reconciliation, backfill, action read-backs) -------------------------------


def from_graphql(node: dict[str, Any], source: str = "reconcile") -> OrderSnapshot:
    """An ``Order`` node selected with the ``OrderFields`` fragment."""
    currency = node.get("currencyCode")
    if not node.get("id") or not currency:
        raise SnapshotError("order node has no id or currencyCode")
    customer = node.get("customer") or {}
    return OrderSnapshot(
        gid=node["id"],
        legacy_id=_int(node.get("legacyResourceId")),
        name=str(node.get("name") or ""),
        created_at=_required_time(node.get("createdAt"), "createdAt"),
        updated_at=_required_time(node.get("updatedAt"), "updatedAt"),
        currency=currency,
        source=source,
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
        note_attributes={str(a["key"]): str(a["value"]) for a in node.get("customAttributes") or []},
        customer_gid=customer.get("id"),
        email=node.get("email"),
        phone=node.get("phone"),
        customer_name=customer.get("displayName"),
        shipping_address=node.get("shippingAddress"),
        lines=_nodes_of(node, "lineItems", graphql_line),
        fulfillment_orders=_nodes_of(node, "fulfillmentOrders", graphql_fulfillment_order),
        refunds=_nodes_of(node, "refunds", lambda r: graphql_refund(r, currency)),
        transactions=_nodes_of(node, "transactions", lambda t: graphql_transaction(t, currency)),
        raw=node,
    )


def _shop_money(bag: dict[str, Any] | None) -> Decimal | None:
    if not bag:
        return None
    return money((bag.get("shopMoney") or {}).get("amount"))


def _nodes(connection: Any) -> list[dict[str, Any]] | None:
    if connection is None:
        return None
    if isinstance(connection, list):
        return connection
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges", [])]


def _nodes_of(node: dict[str, Any], key: str, parse: Any) -> Any:
    if key not in node:
        return None
    items = _nodes(node[key])
    return None if items is None else tuple(parse(item) for item in items)


def graphql_line(li: dict[str, Any]) -> LineSnap:
    tax = sum((_shop_money(t.get("priceSet")) or Decimal(0) for t in li.get("taxLines") or []), Decimal(0))
    return LineSnap(
        gid=li["id"],
        title=str(li.get("title") or ""),
        quantity=int(li.get("quantity") or 0),
        unit_price=_shop_money(li.get("originalUnitPriceSet")) or Decimal(0),
        current_quantity=_int(li.get("currentQuantity")),
        refundable_quantity=_int(li.get("refundableQuantity")),
        unfulfilled_quantity=_int(li.get("unfulfilledQuantity")),
        variant_title=li.get("variantTitle"),
        sku=li.get("sku") or None,
        vendor=li.get("vendor"),
        variant_gid=(li.get("variant") or {}).get("id"),
        product_gid=(li.get("product") or {}).get("id"),
        total_discount=_shop_money(li.get("totalDiscountSet")) or Decimal(0),
        total_tax=tax,
        requires_shipping=bool(li.get("requiresShipping", True)),
    )


def graphql_fulfillment_order(fo: dict[str, Any]) -> FulfillmentOrderSnap:
    lines = _nodes(fo.get("lineItems")) or []
    return FulfillmentOrderSnap(
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
            for li in lines
        ),
        updated_at=parse_time(fo.get("updatedAt")),
    )


def graphql_refund(refund: dict[str, Any], currency: str) -> RefundSnap:
    return RefundSnap(
        gid=refund["id"],
        created_at=_required_time(refund.get("createdAt"), "refund createdAt"),
        total_refunded=_shop_money(refund.get("totalRefundedSet")) or Decimal(0),
        currency=currency,
        note=refund.get("note"),
        refund_line_items=tuple(
            {
                "line_item_gid": (rli.get("lineItem") or {}).get("id"),
                "quantity": int(rli.get("quantity") or 0),
                "restock_type": rli.get("restockType"),
            }
            for rli in _nodes(refund.get("refundLineItems")) or []
        ),
    )


def graphql_transaction(txn: dict[str, Any], currency: str) -> TransactionSnap:
    amount_bag = txn.get("amountSet") or {}
    shop_money = amount_bag.get("shopMoney") or {}
    return TransactionSnap(
        gid=txn["id"],
        kind=str(txn.get("kind") or ""),
        status=str(txn.get("status") or ""),
        amount=money(shop_money.get("amount")) or Decimal(0),
        currency=shop_money.get("currencyCode") or currency,
        gateway=txn.get("gateway"),
        parent_gid=(txn.get("parentTransaction") or {}).get("id"),
        processed_at=parse_time(txn.get("processedAt")),
    )
