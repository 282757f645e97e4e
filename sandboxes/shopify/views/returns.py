"""Return, ReturnLineItem, ReverseFulfillmentOrder (read-only), their line items and dispositions, and
``SuggestedReturnFinancialOutcome``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.shopify import returns as flow
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.model import (
    ZERO_PAIR,
    Disposition,
    Order,
    Pair,
    Refund,
    Return,
    ReturnLine,
    Transaction,
    gid,
)
from sandboxes.shopify.views.base import REGISTRY, Connection, View, connection, iso, linked_view, money_bag

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState
    from sandboxes.shopify.views.money import TransactionView
    from sandboxes.shopify.views.orders import OrderView


def _bag(order: Order, pair: Pair) -> dict[str, Any]:
    return money_bag(pair, order.currency, order.presentment_currency)


class ReturnView(View):
    typename = "Return"

    def __init__(self, state: ShopState, order: Order, found: Return) -> None:
        self._state = state
        self._order = order
        self._r = found

    def id(self) -> str:
        return gid("Return", self._r.id)

    def name(self) -> str:
        return self._r.name

    def status(self) -> str:
        return self._r.status

    def createdAt(self) -> str | None:
        return iso(self._r.created_at)

    def closedAt(self) -> str | None:
        return iso(self._r.closed_at)

    def requestApprovedAt(self) -> str | None:
        return iso(self._r.request_approved_at)

    def totalQuantity(self) -> int:
        return self._r.total_quantity

    def staffMember(self) -> None:
        return None

    def decline(self) -> dict[str, Any] | None:
        if self._r.decline_reason is None:
            return None
        return {"reason": self._r.decline_reason, "note": self._r.decline_note}

    def order(self) -> OrderView:
        view: OrderView = linked_view("Order", self._state, self._order)
        return view

    def returnLineItems(self, processingStatus: str | None = None, **page: Any) -> Connection:
        lines = self._r.lines
        if processingStatus == "PROCESSED":
            lines = [line for line in lines if line.processed_quantity > 0]
        elif processingStatus == "PROCESSABLE":
            lines = [line for line in lines if _processable(self._r, line) > 0]
        return connection(
            lines, lambda line: line.id, lambda line: ReturnLineItemView(self._order, self._r, line), **page
        )

    def exchangeLineItems(
        self, includeRemovedItems: bool | None = False, processingStatus: str | None = None, **page: Any
    ) -> Connection:
        return Connection([], has_next=False, has_previous=False)

    def returnShippingFees(self) -> list[dict[str, Any]]:
        if self._r.shipping_fee is None or self._r.shipping_fee_id is None:
            return []
        return [
            {
                "id": gid("ReturnShippingFee", self._r.shipping_fee_id),
                "amountSet": _bag(self._order, self._r.shipping_fee),
            }
        ]

    def _refunds(self) -> list[Refund]:
        return [refund for refund in self._order.refunds if refund.return_id == self._r.id]

    def refunds(self, **page: Any) -> Connection:
        return connection(
            self._refunds(), lambda r: r.id, lambda r: linked_view("Refund", self._state, self._order, r), **page
        )

    def transactions(self, **page: Any) -> Connection:
        chosen = [t for refund in self._refunds() for t in refund.transactions]

        def render(transaction: Transaction) -> TransactionView:
            view: TransactionView = linked_view("OrderTransaction", self._state, self._order, transaction)
            return view

        return connection(chosen, lambda t: t.id, render, **page)

    def reverseFulfillmentOrders(self, **page: Any) -> Connection:
        chosen = [self._r] if self._r.reverse_status is not None else []

        def render(found: Return) -> ReverseFulfillmentOrderView:
            return ReverseFulfillmentOrderView(self._state, self._order, found)

        return connection(chosen, lambda r: r.reverse_fulfillment_order_id, render, **page)

    def suggestedFinancialOutcome(
        self,
        returnLineItems: list[dict[str, Any]],
        exchangeLineItems: list[dict[str, Any]],
        refundShipping: dict[str, Any] | None = None,
        refundDuties: list[dict[str, Any]] | None = None,
        refundMethodAllocation: str | None = "ORIGINAL_PAYMENT_METHODS",
        tipLineId: str | None = None,
    ) -> SuggestedReturnFinancialOutcomeView:
        if (
            exchangeLineItems
            or refundDuties
            or tipLineId
            or refundMethodAllocation not in (None, "ORIGINAL_PAYMENT_METHODS")
        ):
            raise ShopifyError(
                "not supported by the sandbox: exchanges, duties, tips or store credit in suggestedFinancialOutcome",
                "NOT_SUPPORTED_BY_SANDBOX",
            )
        try:
            outcome = flow.suggest_outcome(self._order, self._r, returnLineItems, refundShipping)
        except flow.ReturnRefused as exc:
            raise ShopifyError(exc.message, "BAD_REQUEST") from None
        return SuggestedReturnFinancialOutcomeView(self._state, self._order, outcome)


def _processable(found: Return, line: ReturnLine) -> int:
    return line.quantity - line.processed_quantity if found.status == "OPEN" else 0


class ReturnLineItemView(View):
    typename = "ReturnLineItem"

    def __init__(self, order: Order, found: Return, line: ReturnLine) -> None:
        self._order = order
        self._r = found
        self._line = line

    def id(self) -> str:
        return gid("ReturnLineItem", self._line.id)

    def quantity(self) -> int:
        return self._line.quantity

    def processedQuantity(self) -> int:
        return self._line.processed_quantity

    def processableQuantity(self) -> int:
        return _processable(self._r, self._line)

    def unprocessedQuantity(self) -> int:
        return self._line.quantity - self._line.processed_quantity

    def refundedQuantity(self) -> int:
        return self._line.refunded_quantity

    def refundableQuantity(self) -> int:
        return self._line.processed_quantity - self._line.refunded_quantity

    def returnReason(self) -> str:
        return self._line.reason

    def returnReasonDefinition(self) -> ReturnReasonDefinitionView:
        return ReturnReasonDefinitionView(self._line.reason)

    def returnReasonNote(self) -> str:
        return self._line.reason_note

    def customerNote(self) -> str | None:
        return self._line.customer_note

    def totalWeight(self) -> None:
        return None

    def _unit_total(self) -> Pair:
        from sandboxes.shopify.refunds import unit_net

        item = self._order.line_item(self._line.line_item_id)
        assert item is not None
        return unit_net(item).times(self._line.quantity)

    def withCodeDiscountedTotalPriceSet(self) -> dict[str, Any]:
        return _bag(self._order, self._unit_total())

    def restockingFee(self) -> dict[str, Any] | None:
        if self._line.restocking_fee_percentage is None:
            return None
        fee = flow.restocking_fee(self._order, self._line, self._unit_total())
        return {
            "id": gid("RestockingFee", self._line.id),
            "percentage": self._line.restocking_fee_percentage,
            "amountSet": _bag(self._order, fee),
        }

    def fulfillmentLineItem(self) -> Any:
        return fulfillment_line_view(self._order, self._line.fulfillment_line_item_id)


class ReturnReasonDefinitionView(View):
    """One of the standard reasons, one per ``ReturnReason`` value (handle: the value in kebab case)."""

    typename = "ReturnReasonDefinition"

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def id(self) -> str:
        return gid("ReturnReasonDefinition", flow.reason_definition_id(self._reason))

    def handle(self) -> str:
        return self._reason.lower().replace("_", "-")

    def name(self) -> str:
        return flow.REASON_NAMES[self._reason]

    def deleted(self) -> bool:
        return False


def fulfillment_line_view(order: Order, fulfillment_line_item_id: int) -> Any:
    from sandboxes.shopify.views.fulfillment import FulfillmentLineItemView

    found = order.fulfillment_line(fulfillment_line_item_id)
    assert found is not None  # return lines always point at the order's fulfillment lines
    return FulfillmentLineItemView(order, found[1])


class ReverseFulfillmentOrderView(View):
    """The return's reverse fulfillment order (one per return, at the shop's location; read-only)."""

    typename = "ReverseFulfillmentOrder"

    def __init__(self, state: ShopState, order: Order, found: Return) -> None:
        self._state = state
        self._order = order
        self._r = found

    def id(self) -> str:
        return gid("ReverseFulfillmentOrder", self._r.reverse_fulfillment_order_id)

    def status(self) -> str:
        return self._r.reverse_status or "OPEN"

    def order(self) -> OrderView:
        view: OrderView = linked_view("Order", self._state, self._order)
        return view

    def thirdPartyConfirmation(self) -> None:
        return None

    def reverseDeliveries(self, **page: Any) -> Connection:
        return Connection([], has_next=False, has_previous=False)

    def lineItems(self, **page: Any) -> Connection:
        def render(line: ReturnLine) -> ReverseFulfillmentOrderLineItemView:
            return ReverseFulfillmentOrderLineItemView(self._order, line)

        return connection(self._r.lines, lambda line: line.reverse_line_id, render, **page)


class ReverseFulfillmentOrderLineItemView(View):
    typename = "ReverseFulfillmentOrderLineItem"

    def __init__(self, order: Order, line: ReturnLine) -> None:
        self._order = order
        self._line = line

    def id(self) -> str:
        return gid("ReverseFulfillmentOrderLineItem", self._line.reverse_line_id)

    def totalQuantity(self) -> int:
        return self._line.quantity

    def fulfillmentLineItem(self) -> Any:
        return fulfillment_line_view(self._order, self._line.fulfillment_line_item_id)

    def dispositions(self) -> list[DispositionView]:
        return [DispositionView(d) for d in self._line.dispositions]


class DispositionView(View):
    typename = "ReverseFulfillmentOrderDisposition"

    def __init__(self, disposition: Disposition) -> None:
        self._d = disposition

    def id(self) -> str:
        return gid("ReverseFulfillmentOrderDisposition", self._d.id)

    def quantity(self) -> int:
        return self._d.quantity

    def type(self) -> str:
        return self._d.type

    def createdAt(self) -> str | None:
        return iso(self._d.created_at)

    def location(self) -> Any:
        from sandboxes.shopify.generator import SERVICE_LOCATION_NAME
        from sandboxes.shopify.ids import SERVICE_LOCATION_ID
        from sandboxes.shopify.views.fulfillment import LocationView

        if self._d.location_id is None:
            return None
        service = self._d.location_id == SERVICE_LOCATION_ID
        return LocationView(self._d.location_id, SERVICE_LOCATION_NAME if service else "Shop location", service)


class SuggestedReturnFinancialOutcomeView(View):
    typename = "SuggestedReturnFinancialOutcome"

    def __init__(self, state: ShopState, order: Order, outcome: flow.Outcome) -> None:
        self._state = state
        self._order = order
        self._o = outcome

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return _bag(self._order, pair)

    def discountedSubtotal(self) -> dict[str, Any]:
        return self._bag(self._o.subtotal)

    def totalTax(self) -> dict[str, Any]:
        return self._bag(self._o.tax)

    def totalCartDiscountAmount(self) -> dict[str, Any]:
        return self._bag(ZERO_PAIR)

    def totalDuties(self) -> dict[str, Any]:
        return self._bag(ZERO_PAIR)

    def refundDuties(self) -> list[Any]:
        return []

    def totalAdditionalFees(self) -> dict[str, Any]:
        return self._bag(ZERO_PAIR)

    def maximumRefundable(self) -> dict[str, Any]:
        return self._bag(self._o.maximum)

    def shipping(self) -> dict[str, Any]:
        return {
            "amountSet": self._bag(self._o.shipping),
            "maximumRefundableSet": self._bag(self._o.shipping_left),
            "taxSet": self._bag(ZERO_PAIR),
        }

    def financialTransfer(self) -> dict[str, Any]:
        transactions = [
            {
                "kind": "SUGGESTED_REFUND",
                "gateway": parent.gateway,
                "formattedGateway": parent.gateway.replace("_", " ").title(),
                "amountSet": self._bag(amount),
                "maximumRefundableSet": self._bag(maximum),
                "parentTransaction": linked_view("OrderTransaction", self._state, self._order, parent),
            }
            for parent, amount, maximum in self._o.transactions
        ]
        return {
            "__typename": "RefundReturnOutcome",
            "amount": self._bag(self._o.amount),
            "suggestedTransactions": transactions,
            "suggestedRefundMethods": [],
        }


# ``return`` is a Python keyword: the field is attached by name (the executor looks fields up with getattr).
def _refund_return(self: Any) -> ReturnView | None:
    refund: Refund = self._refund
    found = self._order.return_(refund.return_id) if refund.return_id is not None else None
    return ReturnView(self._state, self._order, found) if found is not None else None


def attach_refund_return(refund_view: type[View]) -> None:
    setattr(refund_view, "return", _refund_return)
    REGISTRY["Refund"].add("return")
