"""Order and Customer views (line items: items.py; transactions and refunds: money.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ledger
from sandboxes.shopify.model import ZERO_PAIR, LineItem, Order, Pair, gid
from sandboxes.shopify.views.address import address_dict
from sandboxes.shopify.views.base import Connection, View, connection, iso, linked_view, money_bag
from sandboxes.shopify.views.items import LineItemView
from sandboxes.shopify.views.money import RefundView, SuggestedRefundView, TransactionView
from sandboxes.shopify.views.sync import CustomerSyncFields, OrderSyncFields

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState


class OrderView(OrderSyncFields, View):
    typename = "Order"

    def __init__(self, state: ShopState, order: Order) -> None:
        self._state = state
        self._order = order
        # Views live for one answer or one bulk row, during which the order does not change.
        self._figures = ledger.Figures(order)

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return money_bag(pair, self._order.currency, self._order.presentment_currency)

    def id(self) -> str:
        return gid("Order", self._order.id)

    def legacyResourceId(self) -> str:
        return str(self._order.id)

    def name(self) -> str:
        return self._order.name

    def createdAt(self) -> str | None:
        return iso(self._order.created_at)

    def processedAt(self) -> str | None:
        return iso(self._order.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._order.updated_at)

    def cancelledAt(self) -> str | None:
        return iso(self._order.cancelled_at)

    def cancelReason(self) -> str | None:
        return self._order.cancel_reason

    def closed(self) -> bool:
        return ledger.is_closed(self._order)

    def closedAt(self) -> str | None:
        return iso(self._order.closed_at)

    def confirmed(self) -> bool:
        return True

    def test(self) -> bool:
        return True

    def email(self) -> str:
        return self._order.customer.email

    def phone(self) -> str | None:
        return self._order.customer.phone

    def note(self) -> str | None:
        return self._order.note

    def tags(self) -> list[str]:
        return list(self._order.tags)

    def sourceName(self) -> str:
        return self._order.source_name

    def discountCodes(self) -> list[str]:
        return list(self._order.discount_codes)

    def paymentGatewayNames(self) -> list[str]:
        return sorted({t.gateway for t in self._order.transactions})

    def customAttributes(self) -> list[dict[str, str]]:
        return [{"key": key, "value": value} for key, value in self._order.note_attributes]

    def currencyCode(self) -> str:
        return self._order.currency

    def presentmentCurrencyCode(self) -> str:
        return self._order.presentment_currency

    def displayFinancialStatus(self) -> str:
        return self._figures.financial_status()

    def displayFulfillmentStatus(self) -> str:
        return self._figures.fulfillment_status()

    def fullyPaid(self) -> bool:
        return self._figures.outstanding().shop == 0 and self._figures.received().shop > 0

    def unpaid(self) -> bool:
        return self._figures.received().shop == 0

    def capturable(self) -> bool:
        return bool(self._figures.uncaptured_authorizations()) and self._order.cancelled_at is None

    def refundable(self) -> bool:
        return self._figures.net_payment().shop > 0

    def subtotalPriceSet(self) -> dict[str, Any]:
        return self._bag(self._figures.subtotal())

    def totalPriceSet(self) -> dict[str, Any]:
        return self._bag(self._figures.total_price())

    def currentTotalPriceSet(self) -> dict[str, Any]:
        return self._bag(self._figures.current_total())

    def totalTaxSet(self) -> dict[str, Any]:
        return self._bag(self._figures.total_tax())

    def totalDiscountsSet(self) -> dict[str, Any]:
        return self._bag(self._figures.total_discounts())

    def totalShippingPriceSet(self) -> dict[str, Any]:
        return self._bag(self._order.shipping_price)

    def totalReceivedSet(self) -> dict[str, Any]:
        return self._bag(self._figures.received())

    def totalRefundedSet(self) -> dict[str, Any]:
        return self._bag(self._figures.refunded())

    def totalRefundedShippingSet(self) -> dict[str, Any]:
        return self._bag(self._figures.refunded_shipping())

    def netPaymentSet(self) -> dict[str, Any]:
        return self._bag(self._figures.net_payment())

    def totalOutstandingSet(self) -> dict[str, Any]:
        return self._bag(self._figures.outstanding())

    def totalCapturableSet(self) -> dict[str, Any]:
        return self._bag(self._figures.capturable())

    def customer(self) -> CustomerView:
        return CustomerView(self._order)

    def shippingAddress(self) -> dict[str, Any]:
        return address_dict(self._order)

    def taxLines(self) -> list[dict[str, Any]]:
        """One line per tax rate, summed over the line items."""
        by_rate: dict[Decimal, Pair] = {}
        for item in self._order.line_items:
            if item.tax_rate:
                by_rate[item.tax_rate] = by_rate.get(item.tax_rate, ZERO_PAIR) + item.tax
        return [_tax_line(rate, self._bag(total), total) for rate, total in sorted(by_rate.items())]

    def shippingLines(self, includeRemovals: bool | None = None, **page: Any) -> Connection:
        line = ShippingLineView(self._order)
        return Connection([(line, self._order.id)], has_next=False, has_previous=False)

    def lineItems(self, **page: Any) -> Connection:
        return connection(self._order.line_items, lambda item: item.id, self._line, **page)

    def _line(self, item: LineItem) -> LineItemView:
        return LineItemView(self._order, item, self._figures)

    def transactions(self, first: int | None = None, capturable: bool | None = None) -> list[TransactionView]:
        chosen = self._order.transactions + [t for r in self._order.refunds for t in r.transactions]
        if capturable:
            open_authorizations = set(self._figures.uncaptured_authorizations())
            chosen = [t for t in chosen if t.id in open_authorizations]
        chosen.sort(key=lambda t: (t.created_at, t.id))
        return [TransactionView(self._state, self._order, t) for t in chosen[:first]]

    def refunds(self, first: int | None = None) -> list[RefundView]:
        return [RefundView(self._state, self._order, r) for r in self._order.refunds[:first]]

    def disputes(self) -> list[dict[str, Any]]:
        from sandboxes.shopify.disputes import order_disputes

        return order_disputes(self._state, self._order)

    def fulfillments(self, first: int | None = None) -> list[Any]:
        return [linked_view("Fulfillment", self._state, self._order, f) for f in self._order.fulfillments[:first]]

    def fulfillmentOrders(self, displayable: bool | None = None, **page: Any) -> Connection:
        chosen = self._order.fulfillment_orders
        if displayable:
            chosen = [fo for fo in chosen if fo.status not in ("CANCELLED", "CLOSED") or self._order.fulfillments]
        return connection(
            chosen, lambda fo: fo.id, lambda fo: linked_view("FulfillmentOrder", self._state, self._order, fo), **page
        )

    def returns(self, **page: Any) -> Connection:
        from sandboxes.shopify.views.returns import ReturnView

        return connection(
            self._order.returns, lambda r: r.id, lambda r: ReturnView(self._state, self._order, r), **page
        )

    def returnStatus(self) -> str:
        from sandboxes.shopify.returns import order_return_status

        return order_return_status(self._order)

    def suggestedRefund(self, **arguments: Any) -> SuggestedRefundView:
        from sandboxes.shopify.refunds import suggest_refund

        return SuggestedRefundView(self._state, self._order, suggest_refund(self._order, **arguments))


def _tax_line(rate: Decimal, bag: dict[str, Any], total: Pair) -> dict[str, Any]:
    return {
        "title": "Tax",
        "rate": float(rate),
        "ratePercentage": float(rate * 100),
        "priceSet": bag,
        "price": str(total.shop),
        "channelLiable": False,
        "source": "Shopify",
    }


class ShippingLineView(View):
    """The order's one shipping line (the sandbox's orders ship in one parcel)."""

    typename = "ShippingLine"

    def __init__(self, order: Order) -> None:
        self._order = order

    def _bag(self) -> dict[str, Any]:
        return money_bag(self._order.shipping_price, self._order.currency, self._order.presentment_currency)

    def id(self) -> str:
        return gid("ShippingLine", self._order.id)

    def title(self) -> str:
        return self._order.shipping_title

    def code(self) -> str:
        return self._order.shipping_title

    def source(self) -> str:
        return "shopify"

    def carrierIdentifier(self) -> None:
        return None

    def custom(self) -> bool:
        return False

    def isRemoved(self) -> bool:
        return False

    def originalPriceSet(self) -> dict[str, Any]:
        return self._bag()

    def discountedPriceSet(self) -> dict[str, Any]:
        return self._bag()

    def currentDiscountedPriceSet(self) -> dict[str, Any]:
        return self._bag()

    def taxLines(self) -> list[dict[str, Any]]:
        return []


class CustomerView(CustomerSyncFields, View):
    typename = "Customer"

    def __init__(self, order: Order) -> None:
        self._order = order
        self._customer = order.customer

    def id(self) -> str:
        return gid("Customer", self._customer.id)

    def legacyResourceId(self) -> str:
        return str(self._customer.id)

    def firstName(self) -> str:
        return self._customer.first_name

    def lastName(self) -> str:
        return self._customer.last_name

    def displayName(self) -> str:
        return f"{self._customer.first_name} {self._customer.last_name}"

    def email(self) -> str:
        return self._customer.email

    def phone(self) -> str | None:
        return self._customer.phone
