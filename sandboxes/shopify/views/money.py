"""OrderTransaction, Refund, RefundLineItem and SuggestedRefund views."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandboxes.shopify.model import Order, Pair, Refund, RefundLine, Transaction, gid
from sandboxes.shopify.views.base import Connection, View, connection, iso, linked_view, money, money_bag
from sandboxes.shopify.views.items import LineItemView

if TYPE_CHECKING:
    from sandboxes.shopify.refunds import RefundPlan
    from sandboxes.shopify.state import ShopState
    from sandboxes.shopify.views.orders import OrderView


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
        view: OrderView = linked_view("Order", self._state, self._order)
        return view


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
        view: OrderView = linked_view("Order", self._state, self._order)
        return view

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

    def __init__(self, state: ShopState, order: Order, suggestion: RefundPlan) -> None:
        self._state = state
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
                "parentTransaction": TransactionView(self._state, self._order, parent),
            }
            for parent, share, maximum in self._s.transactions
        ]


def _attach_refund_return() -> None:
    from sandboxes.shopify.views.returns import attach_refund_return

    attach_refund_return(RefundView)


_attach_refund_return()
