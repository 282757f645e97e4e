"""Shopify's current state of a return (``ReturnById``) and of an order's returnable items
(``OrderReturnables``), read right before (and after) every return action: never the mirror."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import parse_time
from integrations.shopify.paging import complete_order
from worker.cancellation.shopify_view import RefundView
from worker.errors import NotFoundError


@dataclass(frozen=True)
class ReturnLineView:
    gid: str
    quantity: int
    processed: int
    processable: int
    refunded: int
    reason: str  # Shopify's reason handle, normalised: SIZE_TOO_SMALL, DEFECTIVE… ("" unknown)
    reason_note: str
    customer_note: str | None
    fulfillment_line_item_gid: str | None
    line_item_gid: str | None


@dataclass(frozen=True)
class ReturnView:
    gid: str
    name: str
    status: str  # REQUESTED | OPEN | CLOSED | DECLINED | CANCELED
    order_gid: str
    lines: tuple[ReturnLineView, ...]
    refunds: tuple[RefundView, ...]
    decline_reason: str | None
    decline_note: str | None
    closed_at: dt.datetime | None
    created_at: dt.datetime | None = None  # on Shopify's clock, as the order's refunds' createdAt

    @property
    def processed_units(self) -> int:
        return sum(line.processed for line in self.lines)

    @property
    def fully_processed(self) -> bool:
        return bool(self.lines) and all(line.processed >= line.quantity for line in self.lines)

    @property
    def refunded_amount(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal(0))

    def refund_with_note(self, marker: str) -> RefundView | None:
        return next((r for r in self.refunds if r.note and marker in r.note), None)


def normalise_reason(value: str | None) -> str:
    """A reason handle (``size-too-small``) or enum (``SIZE_TOO_SMALL``) as the enum spelling."""
    return (value or "").strip().upper().replace("-", "_").replace(" ", "_")


def _money(bag: dict[str, Any] | None) -> Decimal:
    amount = ((bag or {}).get("shopMoney") or {}).get("amount")
    return Decimal(str(amount)) if amount is not None else Decimal(0)


def _nodes(connection: Any) -> list[dict[str, Any]]:
    return list((connection or {}).get("nodes") or [])


def _line(node: dict[str, Any]) -> ReturnLineView:
    fli = node.get("fulfillmentLineItem") or {}
    definition = node.get("returnReasonDefinition") or {}
    return ReturnLineView(
        gid=node["id"],
        quantity=int(node.get("quantity") or 0),
        processed=int(node.get("processedQuantity") or 0),
        processable=int(node.get("processableQuantity") or 0),
        refunded=int(node.get("refundedQuantity") or 0),
        reason=normalise_reason(definition.get("handle") or node.get("returnReason")),
        reason_note=str(node.get("returnReasonNote") or ""),
        customer_note=node.get("customerNote"),
        fulfillment_line_item_gid=fli.get("id"),
        line_item_gid=(fli.get("lineItem") or {}).get("id"),
    )


def parse_return(node: dict[str, Any]) -> ReturnView:
    decline = node.get("decline") or {}
    return ReturnView(
        gid=node["id"],
        name=str(node.get("name") or ""),
        status=str(node.get("status") or "").upper(),
        order_gid=str((node.get("order") or {}).get("id") or ""),
        lines=tuple(_line(n) for n in _nodes(node.get("returnLineItems"))),
        refunds=tuple(
            RefundView(r["id"], r.get("note"), _money(r.get("totalRefundedSet")), parse_time(r.get("createdAt")))
            for r in _nodes(node.get("refunds"))
        ),
        decline_reason=decline.get("reason"),
        decline_note=decline.get("note"),
        closed_at=parse_time(node.get("closedAt")),
        created_at=parse_time(node.get("createdAt")),
    )


def read_return(client: ShopifyClient, return_gid: str) -> ReturnView:
    """Shopify's return now (a query: always safe to resend). ``NotFoundError`` if Shopify has none."""
    node = client.execute("ReturnById", {"id": return_gid})["return"]
    if node is None:
        raise NotFoundError(f"Shopify has no return {return_gid}")
    return parse_return(node)


@dataclass(frozen=True)
class ReturnableItem:
    fulfillment_line_item_gid: str
    line_item_gid: str
    quantity: int


@dataclass(frozen=True)
class ExistingReturn:
    gid: str
    status: str
    reason_notes: tuple[str, ...]


#: The returns whose units a new return cannot take again (a declined request or a canceled return frees
#: them), as Shopify counts a fulfillment line item's returnable quantity.
HOLDING_STATUSES = frozenset({"REQUESTED", "OPEN", "CLOSED"})


@dataclass(frozen=True)
class Returnables:
    """Each fulfillment line item of a successful fulfillment with units still returnable (``quantity``:
    shipped, less those in the order's requested, open and closed returns), and the order's returns."""

    items: tuple[ReturnableItem, ...]
    returns: tuple[ExistingReturn, ...]

    def fulfillment_line_items(self, line_item_gid: str) -> list[ReturnableItem]:
        return [i for i in self.items if i.line_item_gid == line_item_gid]

    def return_marked(self, marker: str) -> ExistingReturn | None:
        """The return whose line notes carry ``marker`` (what an earlier returnCreate attempt created)."""
        return next((r for r in self.returns if any(marker in n for n in r.reason_notes)), None)


def read_returnables(client: ShopifyClient, order_gid: str) -> Returnables:
    node = client.execute("OrderReturnables", {"id": order_gid})["order"]
    if node is None:
        raise NotFoundError(f"Shopify has no order {order_gid}")
    # the return an earlier attempt made may be the 11th; the line to return, a fulfillment's 21st
    complete_order(client, node, ("returns", "fulfillments"))
    taken: dict[str, int] = {}  # units of each fulfillment line item already in a return that holds them
    for r in _nodes(node.get("returns")):
        if str(r.get("status") or "").upper() in HOLDING_STATUSES:
            for li in _nodes(r.get("returnLineItems")):
                fli_gid = str((li.get("fulfillmentLineItem") or {}).get("id") or "")
                taken[fli_gid] = taken.get(fli_gid, 0) + int(li.get("quantity") or 0)
    shipped = (
        (fli["id"], str((fli.get("lineItem") or {}).get("id") or ""), int(fli.get("quantity") or 0))
        for fulfillment in node.get("fulfillments") or []
        if str(fulfillment.get("status") or "SUCCESS").upper() == "SUCCESS"  # a cancelled parcel returns nothing
        for fli in _nodes(fulfillment.get("fulfillmentLineItems"))
    )
    items = tuple(
        ReturnableItem(fli_gid, line_gid, left)
        for fli_gid, line_gid, quantity in shipped
        if (left := quantity - taken.get(fli_gid, 0)) > 0
    )
    returns = tuple(
        ExistingReturn(
            r["id"],
            str(r.get("status") or "").upper(),
            tuple(str(li.get("returnReasonNote") or "") for li in _nodes(r.get("returnLineItems"))),
        )
        for r in _nodes(node.get("returns"))
    )
    return Returnables(items, returns)
