"""Shopify's *current* state of an order, read with ``OrderForAction`` right before acting (after acting,
the confirmation read ``OrderById`` serves when it holds the whole order: ``complete_for_planning``).

The mirror can lag (a webhook not yet drained, a fulfillment an hour ago): the action is chosen from
this view, never from the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import CLOSED_FULFILLMENT_ORDER, ShopifyOrder, parse_graphql_order
from integrations.shopify.paging import complete_order
from worker.errors import NotFoundError

#: Request statuses meaning a fulfillment service holds the fulfillment order.
SERVICE_HOLDS = frozenset({"ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"})


@dataclass(frozen=True)
class FulfillmentOrderView:
    gid: str
    status: str
    request_status: str

    @property
    def open(self) -> bool:
        return self.status.upper() not in CLOSED_FULFILLMENT_ORDER


@dataclass(frozen=True)
class RefundView:
    gid: str
    note: str | None
    amount: Decimal
    created_at: dt.datetime | None


@dataclass(frozen=True)
class TransactionView:
    gid: str
    kind: str
    status: str
    gateway: str
    amount: Decimal
    parent_gid: str | None


@dataclass(frozen=True)
class OrderView:
    gid: str
    name: str
    cancelled_at: dt.datetime | None
    fulfillment_status: str
    financial_status: str
    currency: str
    total_received: Decimal
    total_refunded: Decimal
    fulfillment_orders: tuple[FulfillmentOrderView, ...]
    refunds: tuple[RefundView, ...]
    line_gids: tuple[str, ...]
    transactions: tuple[TransactionView, ...] = ()

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def refundable(self) -> Decimal:
        """What the customer paid and has not been refunded (never negative)."""
        return max(self.total_received - self.total_refunded, Decimal(0))

    @property
    def shipped(self) -> bool:
        return self.fulfillment_status.upper() in ("FULFILLED", "PARTIALLY_FULFILLED", "PARTIAL")

    def open_fulfillment_orders(self, *statuses: str) -> list[FulfillmentOrderView]:
        wanted = {s.upper() for s in statuses}
        return [fo for fo in self.fulfillment_orders if fo.open and fo.request_status.upper() in wanted]

    def refundable_parents(self) -> list[tuple[TransactionView, Decimal]]:
        """Successful sales/captures and what is left on each after the refunds made against them."""
        refunded: dict[str, Decimal] = {}
        for t in self.transactions:
            if t.kind.upper() == "REFUND" and t.status.upper() == "SUCCESS" and t.parent_gid:
                refunded[t.parent_gid] = refunded.get(t.parent_gid, Decimal(0)) + t.amount
        parents = [
            t for t in self.transactions if t.kind.upper() in ("SALE", "CAPTURE") and t.status.upper() == "SUCCESS"
        ]
        return [(t, t.amount - refunded.get(t.gid, Decimal(0))) for t in parents if t.amount > refunded.get(t.gid, 0)]

    def refund_with_note(self, marker: str) -> RefundView | None:
        return next((r for r in self.refunds if r.note and marker in r.note), None)


def order_view(order: ShopifyOrder) -> OrderView:
    """The cancellation's view of a typed order (read with ``OrderForAction`` or ``OrderById``)."""
    return OrderView(
        gid=order.gid,
        name=order.name,
        cancelled_at=order.cancelled_at,
        fulfillment_status=order.display_fulfillment_status or "UNFULFILLED",
        financial_status=order.display_financial_status or "",
        currency=order.currency,
        total_received=order.total_received or Decimal(0),
        total_refunded=order.total_refunded or Decimal(0),
        fulfillment_orders=tuple(
            FulfillmentOrderView(fo.gid, fo.status, fo.request_status) for fo in order.fulfillment_orders or ()
        ),
        refunds=tuple(RefundView(r.gid, r.note, r.total_refunded, r.created_at) for r in order.refunds or ()),
        line_gids=tuple(li.gid for li in order.lines or ()),
        transactions=tuple(
            TransactionView(t.gid, t.kind, t.status, t.gateway or "", t.amount, t.parent_gid)
            for t in order.transactions or ()
        ),
    )


def parse_order(node: dict[str, Any]) -> OrderView:
    """An ``Order`` node (``OrderForAction``, or ``OrderById`` when ``complete_for_planning``)."""
    return order_view(parse_graphql_order(node, source="action"))


def complete_for_planning(node: dict[str, Any]) -> bool:
    """Whether an ``OrderById`` node (read right after acting) holds everything ``plan`` reads: no
    connection with a next page (its plain lists, refunds and transactions, are never cut). Else read
    ``OrderForAction``."""
    return not any(
        ((node.get(name) or {}).get("pageInfo") or {}).get("hasNextPage") for name in ("lineItems", "fulfillmentOrders")
    )


def read_order(client: ShopifyClient, order_gid: str) -> OrderView:
    """Shopify's order now (a query: always safe to resend). Raises ``NotFoundError`` if it is gone."""
    node = client.execute("OrderForAction", {"id": order_gid})["order"]
    if node is None:
        raise NotFoundError(f"Shopify has no order {order_gid}")
    complete_order(client, node, ("fulfillmentOrders",))  # every request a service holds counts
    return parse_order(node)
