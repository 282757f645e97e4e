"""Refunds made on a return's order, outside the return and outside dropsync, since the return was requested.

A merchant may refund the returned units from the order's Refund button in Shopify's admin while the goods
travel back: that refund is on the order, not on the return (the return shows nothing processed, nothing
refunded), and Shopify still lets ``returnProcess`` refund the line as long as the line has units left
refundable. Processing the return then pays the customer a second time for the same units. So before the
return's refund is planned, the order's refunds are read (``OrderById``: every refund with its lines, on
Shopify's clock) and any refund that could have paid for the return hands the return to a person.

A refund counts when all of these hold:

- it was made at or after the return's ``createdAt`` (the same clock; a refund in the same second counts:
  a person looks rather than a customer paid twice); when Shopify gives no ``createdAt``, every refund counts;
- its note carries no marker of any of dropsync's intents on the order (``[key]``: our cancellations'
  refundCreate and our returns' returnProcess, this one's included);
- it refunds units of one of the return's lines, or it refunds money with no line at all (a money-only
  refund cannot be told apart from one for the return). A refund of other lines only does not count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import ShopifyRefund, parse_graphql_order
from integrations.shopify.paging import complete_order
from models import ShopifyIntent
from worker.cancellation.intents import refund_marker
from worker.errors import NotFoundError


def read_order_refunds(client: ShopifyClient, order_gid: str) -> tuple[ShopifyRefund, ...]:
    """The order's refunds now, each with every one of its lines (a query: always safe to resend)."""
    node = client.execute("OrderById", {"id": order_gid})["order"]
    if node is None:
        raise NotFoundError(f"Shopify has no order {order_gid}")
    complete_order(client, node, ("refunds",))  # a refund's lines past its first 10
    return parse_graphql_order(node, source="returns").refunds or ()


def own_markers(session: Session, order_id: int) -> frozenset[str]:
    """The note markers of every intent dropsync made for the order, whatever became of it. Read after the
    order's refunds: an intent is committed before its mutation is sent, so each refund of ours read
    earlier has its marker here."""
    intents = session.scalars(select(ShopifyIntent).where(ShopifyIntent.order_id == order_id))
    return frozenset(refund_marker(intent) for intent in intents)


def refunds_for_return(
    refunds: Iterable[ShopifyRefund], *, since: dt.datetime | None, markers: Collection[str], line_gids: Collection[str]
) -> tuple[ShopifyRefund, ...]:
    """The refunds (pure) that could have paid for the return's lines (``line_gids``); see the module."""
    return tuple(
        r
        for r in refunds
        if (since is None or r.created_at >= since)
        and not any(m in (r.note or "") for m in markers)
        and _covers(r, line_gids)
    )


def _covers(refund: ShopifyRefund, line_gids: Collection[str]) -> bool:
    lines = [rli for rli in refund.refund_line_items if int(rli.get("quantity") or 0) > 0]
    if not lines:
        return refund.total_refunded > 0
    return any(rli.get("line_item_gid") in line_gids for rli in lines)


def describe(refunds: Iterable[ShopifyRefund], line_gids: Collection[str], currency: str) -> str:
    """What was found, in words: each refund's id, time, amount and the return's units it refunded."""
    parts = []
    for r in refunds:
        units = sum(int(li.get("quantity") or 0) for li in r.refund_line_items if li.get("line_item_gid") in line_gids)
        what = f"{units} unit(s) of the returned line(s)" if units else "money only, no line"
        parts.append(f"{r.gid} of {r.created_at:%Y-%m-%d %H:%M} UTC, {r.total_refunded} {currency}, {what}")
    return "; ".join(parts)


def total(refunds: Iterable[ShopifyRefund]) -> Decimal:
    return sum((r.total_refunded for r in refunds), Decimal(0))
