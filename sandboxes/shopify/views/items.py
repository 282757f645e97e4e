"""LineItem, Product and ProductVariant views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandboxes.shopify import ledger
from sandboxes.shopify.model import LineItem, Order, Pair, gid
from sandboxes.shopify.views.base import View, money_bag
from sandboxes.shopify.views.sync import LineItemSyncFields


class LineItemView(LineItemSyncFields, View):
    typename = "LineItem"

    def __init__(self, order: Order, item: LineItem, figures: ledger.Figures | None = None) -> None:
        """``figures``: the order's, when its view already has them (quantities then walk refunds once)."""
        self._order = order
        self._item = item
        self._figures = figures if figures is not None else ledger.Figures(order)

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
        return self._figures.current_quantity(self._item)

    def refundableQuantity(self) -> int:
        return self._figures.current_quantity(self._item)

    def unfulfilledQuantity(self) -> int:
        return self._figures.unfulfilled_quantity(self._item)

    def fulfillableQuantity(self) -> int:
        return self._figures.unfulfilled_quantity(self._item)

    def nonFulfillableQuantity(self) -> int:
        return self._item.quantity - self._figures.unfulfilled_quantity(self._item)

    def fulfillmentStatus(self) -> str:
        shipped = self._figures.fulfilled_quantity(self._item)
        return "fulfilled" if shipped >= self._item.quantity else ("partial" if shipped else "unfulfilled")

    def requiresShipping(self) -> bool:
        return self._item.requires_shipping

    def taxable(self) -> bool:
        return self._item.tax_rate > 0

    def restockable(self) -> bool:
        return self._figures.current_quantity(self._item) > 0

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


class ProductView(ProductRef):
    typename = "Product"


class ProductVariantView(ProductRef):
    typename = "ProductVariant"

    def sku(self) -> str | None:
        return self._sku
