"""Order, LineItem, OrderTransaction, Refund, RefundLineItem and SuggestedRefund views."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from integrations.shopify.sandbox import ids, ledger
from integrations.shopify.sandbox.model import LineItem, Order, Pair, Refund, RefundLine, Transaction, gid
from integrations.shopify.sandbox.views.base import Connection, View, connection, iso, money, money_bag

if TYPE_CHECKING:
    from integrations.shopify.sandbox.state import ShopState


class OrderView(View):
    typename = "Order"

    def __init__(self, state: ShopState, order: Order) -> None:
        self._state = state
        self._order = order

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
        return ledger.financial_status(self._order)

    def displayFulfillmentStatus(self) -> str:
        return ledger.fulfillment_status(self._order)

    def fullyPaid(self) -> bool:
        return ledger.outstanding(self._order).shop == 0 and ledger.received(self._order).shop > 0

    def unpaid(self) -> bool:
        return ledger.received(self._order).shop == 0

    def capturable(self) -> bool:
        return bool(ledger.uncaptured_authorizations(self._order)) and self._order.cancelled_at is None

    def refundable(self) -> bool:
        return ledger.net_payment(self._order).shop > 0

    def subtotalPriceSet(self) -> dict[str, Any]:
        return self._bag(ledger.subtotal(self._order))

    def totalPriceSet(self) -> dict[str, Any]:
        return self._bag(ledger.total_price(self._order))

    def currentTotalPriceSet(self) -> dict[str, Any]:
        return self._bag(ledger.current_total(self._order))

    def totalTaxSet(self) -> dict[str, Any]:
        return self._bag(ledger.total_tax(self._order))

    def totalDiscountsSet(self) -> dict[str, Any]:
        return self._bag(ledger.total_discounts(self._order))

    def totalShippingPriceSet(self) -> dict[str, Any]:
        return self._bag(self._order.shipping_price)

    def totalReceivedSet(self) -> dict[str, Any]:
        return self._bag(ledger.received(self._order))

    def totalRefundedSet(self) -> dict[str, Any]:
        return self._bag(ledger.refunded(self._order))

    def totalRefundedShippingSet(self) -> dict[str, Any]:
        return self._bag(ledger.refunded_shipping(self._order))

    def netPaymentSet(self) -> dict[str, Any]:
        return self._bag(ledger.net_payment(self._order))

    def totalOutstandingSet(self) -> dict[str, Any]:
        return self._bag(ledger.outstanding(self._order))

    def totalCapturableSet(self) -> dict[str, Any]:
        return self._bag(ledger.capturable(self._order))

    def customer(self) -> CustomerView:
        return CustomerView(self._order)

    def shippingAddress(self) -> dict[str, Any]:
        return address_dict(self._order)

    def lineItems(self, **page: Any) -> Connection:
        return connection(self._order.line_items, lambda item: item.id, self._line, **page)

    def _line(self, item: LineItem) -> LineItemView:
        return LineItemView(self._order, item)

    def transactions(self, first: int | None = None, **_: Any) -> list[TransactionView]:
        chosen = self._order.transactions + [t for r in self._order.refunds for t in r.transactions]
        chosen.sort(key=lambda t: (t.created_at, t.id))
        return [TransactionView(self._state, self._order, t) for t in chosen[:first]]

    def refunds(self, first: int | None = None) -> list[RefundView]:
        return [RefundView(self._state, self._order, r) for r in self._order.refunds[:first]]

    def fulfillments(self, first: int | None = None, **_: Any) -> list[Any]:
        from integrations.shopify.sandbox.views.fulfillment import FulfillmentView

        return [FulfillmentView(self._state, self._order, f) for f in self._order.fulfillments[:first]]

    def fulfillmentOrders(self, displayable: bool | None = None, query: str | None = None, **page: Any) -> Connection:
        from integrations.shopify.sandbox.views.fulfillment import FulfillmentOrderView

        chosen = self._order.fulfillment_orders
        if displayable:
            chosen = [fo for fo in chosen if fo.status not in ("CANCELLED", "CLOSED") or self._order.fulfillments]
        return connection(
            chosen, lambda fo: fo.id, lambda fo: FulfillmentOrderView(self._state, self._order, fo), **page
        )

    def suggestedRefund(self, **arguments: Any) -> SuggestedRefundView:
        from integrations.shopify.sandbox.refunds import suggest_refund

        return SuggestedRefundView(self._order, suggest_refund(self._order, **arguments))


def address_dict(order: Order) -> dict[str, Any]:
    address = order.shipping_address
    return {
        "firstName": address.first_name,
        "lastName": address.last_name,
        "name": f"{address.first_name} {address.last_name}",
        "address1": address.address1,
        "address2": None,
        "city": address.city,
        "province": address.province,
        "provinceCode": address.province_code,
        "country": address.country,
        "countryCode": address.country_code,
        "countryCodeV2": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
        "company": None,
    }


class CustomerView(View):
    typename = "Customer"

    def __init__(self, order: Order) -> None:
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


class LineItemView(View):
    typename = "LineItem"

    def __init__(self, order: Order, item: LineItem) -> None:
        self._order = order
        self._item = item

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return money_bag(pair, self._order.currency, self._order.presentment_currency)

    def id(self) -> str:
        return gid("LineItem", self._item.id)

    def name(self) -> str:
        return f"{self._item.title} - {self._item.variant_title}"

    def title(self) -> str:
        return self._item.title

    def variantTitle(self) -> str:
        return self._item.variant_title

    def sku(self) -> str:
        return self._item.sku

    def vendor(self) -> str:
        return self._item.vendor

    def quantity(self) -> int:
        return self._item.quantity

    def currentQuantity(self) -> int:
        return ledger.current_quantity(self._order, self._item)

    def refundableQuantity(self) -> int:
        return ledger.current_quantity(self._order, self._item)

    def unfulfilledQuantity(self) -> int:
        return ledger.unfulfilled_quantity(self._order, self._item)

    def fulfillableQuantity(self) -> int:
        return ledger.unfulfilled_quantity(self._order, self._item)

    def nonFulfillableQuantity(self) -> int:
        return self._item.quantity - ledger.unfulfilled_quantity(self._order, self._item)

    def fulfillmentStatus(self) -> str:
        shipped = ledger.fulfilled_quantity(self._order, self._item)
        return "fulfilled" if shipped >= self._item.quantity else ("partial" if shipped else "unfulfilled")

    def requiresShipping(self) -> bool:
        return self._item.requires_shipping

    def taxable(self) -> bool:
        return self._item.tax_rate > 0

    def restockable(self) -> bool:
        return ledger.current_quantity(self._order, self._item) > 0

    def isGiftCard(self) -> bool:
        return False

    def customAttributes(self) -> list[dict[str, str]]:
        return []

    def originalUnitPriceSet(self) -> dict[str, Any]:
        return self._bag(self._item.unit_price)

    def discountedUnitPriceSet(self) -> dict[str, Any]:
        return self._bag(self._unit_after_discount())

    def discountedUnitPriceAfterAllDiscountsSet(self) -> dict[str, Any]:
        return self._bag(self._unit_after_discount())

    def _unit_after_discount(self) -> Pair:
        net = self._item.unit_price.times(self._item.quantity) - self._item.discount
        quantity = Decimal(self._item.quantity)
        return Pair(
            (net.shop / quantity).quantize(Decimal("0.01")), (net.presentment / quantity).quantize(Decimal("0.01"))
        )

    def originalTotalSet(self) -> dict[str, Any]:
        return self._bag(self._item.unit_price.times(self._item.quantity))

    def discountedTotalSet(self) -> dict[str, Any]:
        return self._bag(self._item.unit_price.times(self._item.quantity) - self._item.discount)

    def totalDiscountSet(self) -> dict[str, Any]:
        return self._bag(self._item.discount)

    def taxLines(self, first: int | None = None) -> list[dict[str, Any]]:
        rate = self._item.tax_rate
        line = {
            "title": "Tax",
            "rate": float(rate),
            "ratePercentage": float(rate * 100),
            "priceSet": self._bag(self._item.tax),
            "price": str(self._item.tax.shop),
            "channelLiable": False,
            "source": "Shopify",
        }
        return [line][:first] if rate else []

    def product(self) -> ProductRef:
        return ProductView("Product", self._item.product_id, self._item.title)

    def variant(self) -> ProductRef:
        return ProductVariantView("ProductVariant", self._item.variant_id, self._item.variant_title, self._item.sku)


class ProductRef(View):
    """``Product`` and ``ProductVariant`` reduced to identity fields."""

    def __init__(self, kind: str, numeric_id: int, title: str, sku: str | None = None) -> None:
        self._kind, self._id, self._title, self._sku = kind, numeric_id, title, sku

    def id(self) -> str:
        return gid(self._kind, self._id)

    def legacyResourceId(self) -> str:
        return str(self._id)

    def title(self) -> str:
        return self._title

    def sku(self) -> str | None:
        return self._sku


class ProductView(ProductRef):
    typename = "Product"


class ProductVariantView(ProductRef):
    typename = "ProductVariant"


class TransactionView(View):
    typename = "OrderTransaction"

    def __init__(self, state: ShopState, order: Order, transaction: Transaction) -> None:
        self._state = state
        self._order = order
        self._t = transaction

    def id(self) -> str:
        return gid("OrderTransaction", self._t.id)

    def kind(self) -> str:
        return self._t.kind

    def status(self) -> str:
        return self._t.status

    def gateway(self) -> str:
        return self._t.gateway

    def formattedGateway(self) -> str:
        return self._t.gateway.replace("_", " ").title()

    def test(self) -> bool:
        return self._t.test

    def manualPaymentGateway(self) -> bool:
        return self._t.gateway == "manual"

    def authorizationCode(self) -> str | None:
        return self._t.authorization_code

    def errorCode(self) -> None:
        return None

    def createdAt(self) -> str | None:
        return iso(self._t.created_at)

    def processedAt(self) -> str | None:
        return iso(self._t.created_at)

    def amountSet(self) -> dict[str, Any]:
        return money_bag(self._t.amount, self._order.currency, self._order.presentment_currency)

    def amountV2(self) -> dict[str, str]:
        return money(self._t.amount.shop, self._order.currency)

    def amount(self) -> str:
        return str(self._t.amount.shop)

    def parentTransaction(self) -> TransactionView | None:
        parent = self._order.transaction(self._t.parent_id) if self._t.parent_id else None
        return TransactionView(self._state, self._order, parent) if parent else None

    def order(self) -> OrderView:
        return OrderView(self._state, self._order)


class RefundView(View):
    typename = "Refund"

    def __init__(self, state: ShopState, order: Order, refund: Refund) -> None:
        self._state = state
        self._order = order
        self._refund = refund

    def id(self) -> str:
        return gid("Refund", self._refund.id)

    def legacyResourceId(self) -> str:
        return str(self._refund.id)

    def createdAt(self) -> str | None:
        return iso(self._refund.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._refund.created_at)

    def processedAt(self) -> str | None:
        return iso(self._refund.created_at)

    def note(self) -> str | None:
        return self._refund.note

    def totalRefundedSet(self) -> dict[str, Any]:
        return money_bag(self._refund.total(), self._order.currency, self._order.presentment_currency)

    def totalRefunded(self) -> dict[str, str]:
        return money(self._refund.total().shop, self._order.currency)

    def order(self) -> OrderView:
        return OrderView(self._state, self._order)

    def refundLineItems(self, **page: Any) -> Connection:
        def render(line: RefundLine) -> RefundLineItemView:
            return RefundLineItemView(self._order, line)

        return connection(self._refund.lines, lambda line: line.id, render, **page)

    def transactions(self, **page: Any) -> Connection:
        def render(transaction: Transaction) -> TransactionView:
            return TransactionView(self._state, self._order, transaction)

        return connection(self._refund.transactions, lambda t: t.id, render, **page)


class RefundLineItemView(View):
    typename = "RefundLineItem"

    def __init__(self, order: Order, line: RefundLine) -> None:
        self._order = order
        self._line = line

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return money_bag(pair, self._order.currency, self._order.presentment_currency)

    def id(self) -> str | None:
        return gid("RefundLineItem", self._line.id) if self._line.id else None

    def quantity(self) -> int:
        return self._line.quantity

    def restockType(self) -> str:
        return self._line.restock_type

    def restocked(self) -> bool:
        return self._line.restock_type in ("CANCEL", "RETURN")

    def lineItem(self) -> LineItemView:
        item = self._order.line_item(self._line.line_item_id)
        assert item is not None  # a refund line always names one of the order's line items
        return LineItemView(self._order, item)

    def priceSet(self) -> dict[str, Any]:
        quantity = max(self._line.quantity, 1)
        unit = Pair(
            (self._line.subtotal.shop / quantity).quantize(Decimal("0.01")),
            (self._line.subtotal.presentment / quantity).quantize(Decimal("0.01")),
        )
        return self._bag(unit)

    def subtotalSet(self) -> dict[str, Any]:
        return self._bag(self._line.subtotal)

    def totalTaxSet(self) -> dict[str, Any]:
        return self._bag(self._line.tax)


class SuggestedRefundView(View):
    typename = "SuggestedRefund"

    def __init__(self, order: Order, suggestion: Any) -> None:
        self._order = order
        self._s = suggestion

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return money_bag(pair, self._order.currency, self._order.presentment_currency)

    def amountSet(self) -> dict[str, Any]:
        return self._bag(self._s.amount)

    def subtotalSet(self) -> dict[str, Any]:
        return self._bag(self._s.subtotal)

    def discountedSubtotalSet(self) -> dict[str, Any]:
        return self._bag(self._s.subtotal)

    def totalTaxSet(self) -> dict[str, Any]:
        return self._bag(self._s.tax)

    def maximumRefundableSet(self) -> dict[str, Any]:
        return self._bag(self._s.maximum_refundable)

    def totalCartDiscountAmountSet(self) -> dict[str, Any]:
        return self._bag(Pair(Decimal("0.00"), Decimal("0.00")))

    def totalDutiesSet(self) -> dict[str, Any]:
        return self._bag(Pair(Decimal("0.00"), Decimal("0.00")))

    def refundDuties(self) -> list[Any]:
        return []

    def refundLineItems(self) -> list[RefundLineItemView]:
        return [RefundLineItemView(self._order, line) for line in self._s.lines]

    def shipping(self) -> dict[str, Any]:
        return {
            "amountSet": self._bag(self._s.shipping),
            "maximumRefundableSet": self._bag(self._s.shipping_refundable),
            "taxSet": self._bag(Pair(Decimal("0.00"), Decimal("0.00"))),
        }

    def suggestedTransactions(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": "SUGGESTED_REFUND",
                "gateway": parent.gateway,
                "formattedGateway": parent.gateway.replace("_", " ").title(),
                "amountSet": self._bag(share),
                "maximumRefundableSet": self._bag(maximum),
                "parentTransaction": TransactionView(self._s.state, self._order, parent),
            }
            for parent, share, maximum in self._s.transactions
        ]


def order_view(state: ShopState, numeric_id: int) -> OrderView | None:
    order = state.get(ids.order_index(numeric_id))
    return OrderView(state, order) if order is not None else None
