"""FulfillmentOrder, FulfillmentOrderLineItem, Fulfillment and FulfillmentLineItem views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.shopify.model import Fulfillment, FulfillmentOrder, FulfillmentOrderLine, Order, gid
from sandboxes.shopify.views.base import Connection, View, connection, iso, linked_view, money_bag
from sandboxes.shopify.views.items import LineItemView

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState
    from sandboxes.shopify.views.orders import OrderView

# What a merchant may do with a fulfillment order, by (status, request status).
_ACTIONS: dict[str, tuple[str, ...]] = {
    "UNSUBMITTED": ("REQUEST_FULFILLMENT", "HOLD", "MOVE"),
    "SUBMITTED": ("CANCEL_FULFILLMENT_ORDER",),
    "ACCEPTED": ("REQUEST_CANCELLATION", "CREATE_FULFILLMENT"),
    "CANCELLATION_REJECTED": ("REQUEST_CANCELLATION", "CREATE_FULFILLMENT"),
    "REJECTED": ("REQUEST_FULFILLMENT", "MOVE"),
    "CANCELLATION_ACCEPTED": ("REQUEST_FULFILLMENT",),
}


class FulfillmentOrderView(View):
    typename = "FulfillmentOrder"

    def __init__(self, state: ShopState, order: Order, fo: FulfillmentOrder) -> None:
        self._state = state
        self._order = order
        self._fo = fo

    def id(self) -> str:
        return gid("FulfillmentOrder", self._fo.id)

    def status(self) -> str:
        return self._fo.status

    def requestStatus(self) -> str:
        return self._fo.request_status

    def createdAt(self) -> str | None:
        return iso(self._fo.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._fo.updated_at)

    def orderId(self) -> str:
        return gid("Order", self._order.id)

    def orderName(self) -> str:
        return self._order.name

    def orderProcessedAt(self) -> str | None:
        return iso(self._order.created_at)

    def order(self) -> OrderView:
        view: OrderView = linked_view("Order", self._state, self._order)
        return view

    def fulfillmentHolds(self) -> list[Any]:
        return []

    def supportedActions(self) -> list[dict[str, Any]]:
        if self._fo.status in ("CLOSED", "CANCELLED"):
            return []
        return [{"action": action, "externalUrl": None} for action in _ACTIONS.get(self._fo.request_status, ())]

    def assignedLocation(self) -> dict[str, Any]:
        return {
            "name": self._fo.location_name,
            "location": LocationView(self._fo.location_id, self._fo.location_name, self._fo.is_service),
            "countryCode": "CN" if self._fo.is_service else "US",
            "address1": None,
            "address2": None,
            "city": "Hangzhou" if self._fo.is_service else None,
            "province": None,
            "zip": None,
            "phone": None,
        }

    def lineItems(self, **page: Any) -> Connection:
        def render(line: FulfillmentOrderLine) -> FulfillmentOrderLineItemView:
            return FulfillmentOrderLineItemView(self._order, line)

        return connection(self._fo.lines, lambda line: line.id, render, **page)

    def fulfillments(self, **page: Any) -> Connection:
        mine = [f for f in self._order.fulfillments if f.fulfillment_order_id == self._fo.id]

        def render(fulfillment: Fulfillment) -> FulfillmentView:
            return FulfillmentView(self._state, self._order, fulfillment)

        return connection(mine, lambda f: f.id, render, **page)


class LocationView(View):
    typename = "Location"

    def __init__(self, numeric_id: int, name: str, is_service: bool) -> None:
        self._id, self._name, self._is_service = numeric_id, name, is_service

    def id(self) -> str:
        return gid("Location", self._id)

    def legacyResourceId(self) -> str:
        return str(self._id)

    def name(self) -> str:
        return self._name

    def isFulfillmentService(self) -> bool:
        return self._is_service

    def isActive(self) -> bool:
        return True


class FulfillmentOrderLineItemView(View):
    typename = "FulfillmentOrderLineItem"

    def __init__(self, order: Order, line: FulfillmentOrderLine) -> None:
        self._order = order
        self._line = line

    def id(self) -> str:
        return gid("FulfillmentOrderLineItem", self._line.id)

    def totalQuantity(self) -> int:
        return self._line.total_quantity

    def remainingQuantity(self) -> int:
        return self._line.remaining_quantity

    def _item(self) -> LineItemView:
        item = self._order.line_item(self._line.line_item_id)
        assert item is not None  # fulfillment order lines always point at the order's line items
        return LineItemView(self._order, item)

    def lineItem(self) -> LineItemView:
        return self._item()

    def sku(self) -> str:
        return self._item().sku()

    def productTitle(self) -> str:
        return self._item().title()

    def variantTitle(self) -> str:
        return self._item().variantTitle()

    def vendor(self) -> str:
        return self._item().vendor()

    def requiresShipping(self) -> bool:
        return True

    def originalUnitPriceSet(self) -> dict[str, Any]:
        return self._item().originalUnitPriceSet()

    def warnings(self) -> list[Any]:
        return []


class FulfillmentView(View):
    typename = "Fulfillment"

    def __init__(self, state: ShopState, order: Order, fulfillment: Fulfillment) -> None:
        self._state = state
        self._order = order
        self._f = fulfillment

    def id(self) -> str:
        return gid("Fulfillment", self._f.id)

    def legacyResourceId(self) -> str:
        return str(self._f.id)

    def name(self) -> str:
        return self._f.name

    def status(self) -> str:
        return self._f.status

    def displayStatus(self) -> str:
        return "CANCELED" if self._f.status == "CANCELLED" else self._f.display_status

    def createdAt(self) -> str | None:
        return iso(self._f.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._f.updated_at)

    def deliveredAt(self) -> str | None:
        return iso(self._f.updated_at) if self._f.display_status == "DELIVERED" else None

    def inTransitAt(self) -> str | None:
        return iso(self._f.created_at)

    def requiresShipping(self) -> bool:
        return True

    def totalQuantity(self) -> int:
        return sum(quantity for _, _, quantity in self._f.lines)

    def order(self) -> OrderView:
        view: OrderView = linked_view("Order", self._state, self._order)
        return view

    def trackingInfo(self, first: int | None = None) -> list[dict[str, Any]]:
        if not self._f.tracking_number:
            return []
        info = {"company": self._f.tracking_company, "number": self._f.tracking_number, "url": self._f.tracking_url}
        return [info][:first]

    def fulfillmentLineItems(self, **page: Any) -> Connection:
        def render(line: tuple[int, int, int]) -> FulfillmentLineItemView:
            return FulfillmentLineItemView(self._order, line)

        return connection(self._f.lines, lambda line: line[0], render, **page)


class FulfillmentLineItemView(View):
    typename = "FulfillmentLineItem"

    def __init__(self, order: Order, line: tuple[int, int, int]) -> None:
        self._order = order
        self._line = line

    def id(self) -> str:
        return gid("FulfillmentLineItem", self._line[0])

    def quantity(self) -> int:
        return self._line[2]

    def lineItem(self) -> LineItemView:
        item = self._order.line_item(self._line[1])
        assert item is not None  # fulfillment lines always point at the order's line items
        return LineItemView(self._order, item)

    def originalTotalSet(self) -> dict[str, Any]:
        item = self._order.line_item(self._line[1])
        assert item is not None
        return money_bag(item.unit_price.times(self._line[2]), self._order.currency, self._order.presentment_currency)

    def discountedTotalSet(self) -> dict[str, Any]:
        from sandboxes.shopify.refunds import unit_net

        item = self._order.line_item(self._line[1])
        assert item is not None
        return money_bag(unit_net(item).times(self._line[2]), self._order.currency, self._order.presentment_currency)
