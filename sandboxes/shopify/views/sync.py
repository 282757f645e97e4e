"""The fields order-sync tools ask for beyond what dropsync reads (Airbyte's source-shopify, ShopifyAPI
scripts, ``@shopify/shopify-api`` apps): ``current*Set``, ``originalTotalPriceSet``, ``number``,
``shippingLine``, ``discountApplications``, ``billingAddress``, customer history, shop address, access scopes.

Mixins of the views they extend (``class OrderView(OrderSyncFields, View)``), so each view keeps one class
and the registry sees every field. Figures come from the same money model as the rest of the sandbox:
the current figures take out exactly what refunds took out (``current total = current subtotal + current
tax + current shipping``, equal to ``ledger.current_total``), with no duties, tips or additional fees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.shopify import shopinfo
from sandboxes.shopify.model import CENT, ZERO_PAIR, LineItem, Order, Pair, gid, new_pair, pair_sum
from sandboxes.shopify.views.address import address_dict
from sandboxes.shopify.views.base import Connection, View, iso, linked_view, money, money_bag

if TYPE_CHECKING:
    from sandboxes.shopify import ledger
    from sandboxes.shopify.config import SandboxConfig
    from sandboxes.shopify.state import ShopState

DISCOUNT_PERCENT = 10  # the generator's SAVE10 code: 10 % off each discounted line


def _share(pair: Pair, part: int, whole: int) -> Pair:
    """``pair`` x part / whole, rounded to the cent (a line's discount for some of its units)."""
    if whole == 0 or part == whole:
        return pair if part == whole else ZERO_PAIR
    return new_pair(((pair[0] * part / whole).quantize(CENT), (pair[1] * part / whole).quantize(CENT)))


class OrderSyncFields:
    """Order fields for sync tools (see the module docstring)."""

    _state: ShopState
    _order: Order
    _figures: ledger.Figures

    def _bag(self, pair: Pair) -> dict[str, Any]:
        return money_bag(pair, self._order.currency, self._order.presentment_currency)

    def _removed(self) -> tuple[Pair, Pair]:
        """(subtotal, tax) taken out by refunded line items."""
        lines = [line for refund in self._order.refunds for line in refund.lines]
        return pair_sum([line.subtotal for line in lines]), pair_sum([line.tax for line in lines])

    def number(self) -> int:
        return self._order.number - 1000

    def confirmationNumber(self) -> str:
        return shopinfo.confirmation_number(self._order)

    def billingAddress(self) -> dict[str, Any]:
        return address_dict(self._order)

    def displayAddress(self) -> dict[str, Any]:
        return self.billingAddress()

    def billingAddressMatchesShippingAddress(self) -> bool:
        return True

    def originalTotalPriceSet(self) -> dict[str, Any]:
        return self._bag(self._figures.total_price())

    def currentSubtotalPriceSet(self) -> dict[str, Any]:
        return self._bag(self._figures.subtotal() - self._removed()[0])

    def currentTotalTaxSet(self) -> dict[str, Any]:
        return self._bag(self._figures.total_tax() - self._removed()[1])

    def currentShippingPriceSet(self) -> dict[str, Any]:
        return self._bag(self._order.shipping_price - self._figures.refunded_shipping())

    def currentTotalDiscountsSet(self) -> dict[str, Any]:
        figures = self._figures
        kept = [_share(i.discount, figures.current_quantity(i), i.quantity) for i in self._order.line_items]
        return self._bag(pair_sum(kept))

    def currentCartDiscountAmountSet(self) -> dict[str, Any]:
        return self._bag(ZERO_PAIR)  # discounts are allocated to lines, none to the cart

    def cartDiscountAmountSet(self) -> None:
        return None

    def currentSubtotalLineItemsQuantity(self) -> int:
        return sum(self._figures.current_quantity(item) for item in self._order.line_items)

    def subtotalLineItemsQuantity(self) -> int:
        return sum(item.quantity for item in self._order.line_items)

    def currentTotalWeight(self) -> str:
        return "0"

    def totalWeight(self) -> str:
        return "0"

    def currentTotalDutiesSet(self) -> None:
        return None

    def originalTotalDutiesSet(self) -> None:
        return None

    def currentTotalAdditionalFeesSet(self) -> None:
        return None

    def originalTotalAdditionalFeesSet(self) -> None:
        return None

    def totalTipReceivedSet(self) -> dict[str, Any]:
        return self._bag(ZERO_PAIR)

    def taxesIncluded(self) -> bool:
        return False

    def taxExempt(self) -> bool:
        return False

    def dutiesIncluded(self) -> bool:
        return False

    def estimatedTaxes(self) -> bool:
        return False

    def edited(self) -> bool:
        return False

    def merchantEditable(self) -> bool:
        return self._order.cancelled_at is None and self._order.closed_at is None

    def requiresShipping(self) -> bool:
        return any(item.requires_shipping for item in self._order.line_items)

    def fulfillable(self) -> bool:
        return any(self._figures.unfulfilled_quantity(item) for item in self._order.line_items)

    def restockable(self) -> bool:
        return any(self._figures.current_quantity(item) for item in self._order.line_items)

    def canMarkAsPaid(self) -> bool:
        status = self._figures.financial_status()
        return self._order.cancelled_at is None and status in ("PENDING", "PARTIALLY_PAID")

    def customerAcceptsMarketing(self) -> bool:
        return False

    def customerLocale(self) -> str:
        return "en"

    def clientIp(self) -> None:
        return None

    def poNumber(self) -> None:
        return None

    def sourceIdentifier(self) -> None:
        return None

    def landingPageUrl(self) -> None:
        return None

    def referrerUrl(self) -> None:
        return None

    def discountCode(self) -> str | None:
        return self._order.discount_codes[0] if self._order.discount_codes else None

    def statusPageUrl(self) -> str:
        return shopinfo.status_page_url(self._state.config, self._order)

    def shippingLine(self) -> View:
        view: View = linked_view("ShippingLine", self._order)
        return view

    def discountApplications(self, **page: Any) -> Connection:
        from sandboxes.shopify.views.base import connection

        codes = list(enumerate(self._order.discount_codes))
        return connection(codes, lambda pair: pair[0], lambda pair: DiscountCodeApplicationView(*pair), **page)

    def customerJourneySummary(self) -> CustomerJourneySummaryView:
        return CustomerJourneySummaryView()

    def transactionsCount(self) -> dict[str, Any]:
        count = len(self._order.transactions) + sum(len(r.transactions) for r in self._order.refunds)
        return {"count": count, "precision": "EXACT"}


class DiscountCodeApplicationView(View):
    typename = "DiscountCodeApplication"

    def __init__(self, index: int, code: str) -> None:
        self._index, self._code = index, code

    def code(self) -> str:
        return self._code

    def index(self) -> int:
        return self._index

    def value(self) -> PricingPercentageValueView:
        return PricingPercentageValueView(DISCOUNT_PERCENT)

    def allocationMethod(self) -> str:
        return "EACH"

    def targetSelection(self) -> str:
        return "ALL"

    def targetType(self) -> str:
        return "LINE_ITEM"


class PricingPercentageValueView(View):
    typename = "PricingPercentageValue"

    def __init__(self, percentage: int) -> None:
        self._percentage = percentage

    def percentage(self) -> float:
        return float(self._percentage)


class DiscountAllocationView(View):
    typename = "DiscountAllocation"

    def __init__(self, order: Order, item: LineItem) -> None:
        self._order, self._item = order, item

    def allocatedAmountSet(self) -> dict[str, Any]:
        return money_bag(self._item.discount, self._order.currency, self._order.presentment_currency)

    def allocatedAmount(self) -> dict[str, str]:
        return money(self._item.discount.shop, self._order.currency)

    def discountApplication(self) -> DiscountCodeApplicationView:
        return DiscountCodeApplicationView(0, self._order.discount_codes[0])


class CustomerJourneySummaryView(View):
    """The sandbox records no storefront visits: a ready summary with no moments."""

    typename = "CustomerJourneySummary"

    def ready(self) -> bool:
        return True

    def customerOrderIndex(self) -> int:
        return 0

    def daysToConversion(self) -> int:
        return 1

    def firstVisit(self) -> None:
        return None

    def lastVisit(self) -> None:
        return None

    def momentsCount(self) -> dict[str, Any]:
        return {"count": 0, "precision": "EXACT"}

    def moments(self, **page: Any) -> Connection:
        return Connection([], has_next=False, has_previous=False)


class LineItemSyncFields:
    """LineItem fields for sync tools: discount allocations, duties, what is left to fulfil."""

    _order: Order
    _item: LineItem
    _figures: ledger.Figures

    def discountAllocations(self) -> list[DiscountAllocationView]:
        if self._item.discount.is_zero() or not self._order.discount_codes:
            return []
        return [DiscountAllocationView(self._order, self._item)]

    def duties(self) -> list[DutyView]:
        return []  # the sandbox's orders cross no border that charges duties at checkout

    def _unfulfilled_original(self) -> Pair:
        return self._item.unit_price.times(self._figures.unfulfilled_quantity(self._item))

    def unfulfilledOriginalTotalSet(self) -> dict[str, Any]:
        return money_bag(self._unfulfilled_original(), self._order.currency, self._order.presentment_currency)

    def unfulfilledDiscountedTotalSet(self) -> dict[str, Any]:
        off = _share(self._item.discount, self._figures.unfulfilled_quantity(self._item), self._item.quantity)
        return money_bag(self._unfulfilled_original() - off, self._order.currency, self._order.presentment_currency)

    def merchantEditable(self) -> bool:
        return self._order.cancelled_at is None and self._figures.current_quantity(self._item) > 0


class CustomerSyncFields:
    """Customer fields for sync tools. Each seeded order has its own customer (one order each)."""

    _order: Order

    def addresses(self, first: int | None = None) -> list[dict[str, Any]]:
        return [address_dict(self._order)][:first]

    def defaultAddress(self) -> dict[str, Any]:
        return address_dict(self._order)

    def tags(self) -> list[str]:
        return [tag for tag in self._order.tags if tag in ("vip", "repeat")]

    def createdAt(self) -> str | None:
        return iso(self._order.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._order.updated_at)

    def numberOfOrders(self) -> str:
        return "1"

    def amountSpent(self) -> dict[str, str]:
        from sandboxes.shopify import ledger

        return money(ledger.net_payment(self._order).shop, self._order.currency)

    def note(self) -> None:
        return None

    def state(self) -> str:
        return "DISABLED"  # a guest checkout: no customer account

    def verifiedEmail(self) -> bool:
        return True

    def validEmailAddress(self) -> bool:
        return True

    def taxExempt(self) -> bool:
        return False

    def locale(self) -> str:
        return "en"

    def lifetimeDuration(self) -> str:
        return "since the order"


class ShopSyncFields:
    """Shop fields for sync tools: billing address, domain, time zone, units, dates."""

    _config: SandboxConfig

    def billingAddress(self) -> ShopAddressView:
        return ShopAddressView()

    def url(self) -> str:
        return f"https://{self._config.shop_domain}"

    def primaryDomain(self) -> DomainView:
        return DomainView(self._config.shop_domain)

    def contactEmail(self) -> str:
        return shopinfo.shop_email(self._config)

    def shopOwnerName(self) -> str:
        return "Sandbox Owner"

    def description(self) -> None:
        return None

    def timezoneAbbreviation(self) -> str:
        return "UTC"

    def timezoneOffset(self) -> str:
        return "+0000"

    def timezoneOffsetMinutes(self) -> int:
        return 0

    def weightUnit(self) -> str:
        return "KILOGRAMS"

    def taxesIncluded(self) -> bool:
        return False

    def taxShipping(self) -> bool:
        return False

    def setupRequired(self) -> bool:
        return False

    def checkoutApiSupported(self) -> bool:
        return True

    def createdAt(self) -> str | None:
        return iso(shopinfo.CREATED_AT)

    def updatedAt(self) -> str | None:
        return iso(shopinfo.CREATED_AT)


class ShopAddressView(View):
    typename = "ShopAddress"

    def id(self) -> str:
        return gid("ShopAddress", shopinfo.SHOP_ID)

    def address1(self) -> str | None:
        return shopinfo.ADDRESS["address1"]

    def address2(self) -> str | None:
        return shopinfo.ADDRESS["address2"]

    def city(self) -> str | None:
        return shopinfo.ADDRESS["city"]

    def province(self) -> str | None:
        return shopinfo.ADDRESS["province"]

    def provinceCode(self) -> str | None:
        return shopinfo.ADDRESS["province_code"]

    def country(self) -> str | None:
        return shopinfo.ADDRESS["country"]

    def countryCodeV2(self) -> str | None:
        return shopinfo.ADDRESS["country_code"]

    def zip(self) -> str | None:
        return shopinfo.ADDRESS["zip"]

    def phone(self) -> str | None:
        return shopinfo.ADDRESS["phone"]

    def company(self) -> str | None:
        return shopinfo.ADDRESS["company"]

    def formatted(self, withName: bool | None = False, withCompany: bool | None = True) -> list[str]:
        address = shopinfo.ADDRESS
        return [
            f"{address['address1']} {address['address2']}",
            f"{address['city']} {address['province_code']} {address['zip']}",
            str(address["country"]),
        ]

    def formattedArea(self) -> str:
        return f"{shopinfo.ADDRESS['city']} {shopinfo.ADDRESS['province_code']}, {shopinfo.ADDRESS['country']}"

    def coordinatesValidated(self) -> bool:
        return False

    def latitude(self) -> None:
        return None

    def longitude(self) -> None:
        return None


class DomainView(View):
    typename = "Domain"

    def __init__(self, host: str) -> None:
        self._host = host

    def id(self) -> str:
        return gid("Domain", shopinfo.SHOP_ID)

    def host(self) -> str:
        return self._host

    def url(self) -> str:
        return f"https://{self._host}"

    def sslEnabled(self) -> bool:
        return True


class AppInstallationView(View):
    typename = "AppInstallation"

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config

    def id(self) -> str:
        return gid("AppInstallation", shopinfo.APP_INSTALLATION_ID)

    def accessScopes(self) -> list[AccessScopeView]:
        return [AccessScopeView(handle) for handle in shopinfo.ACCESS_SCOPES]

    def launchUrl(self) -> str:
        return f"https://{self._config.shop_domain}/admin/apps/dropsync"


class AccessScopeView(View):
    typename = "AccessScope"

    def __init__(self, handle: str) -> None:
        self._handle = handle

    def handle(self) -> str:
        return self._handle

    def description(self) -> str:
        verb, _, subject = self._handle.partition("_")
        return f"{'Modify' if verb == 'write' else 'Read'} {subject.replace('_', ' ')}"


class QueryRootSyncFields:
    _state: ShopState

    def currentAppInstallation(self) -> AppInstallationView:
        return AppInstallationView(self._state.config)


class DutyView(View):
    """Registered so that ``duties { ... }`` validates; the sandbox's line items carry none (empty lists)."""

    typename = "Duty"

    def __init__(self, order: Order, duty_id: int, price: Pair, country_of_origin: str) -> None:
        self._order, self._id, self._price, self._origin = order, duty_id, price, country_of_origin

    def id(self) -> str:
        return gid("Duty", self._id)

    def countryCodeOfOrigin(self) -> str:
        return self._origin

    def harmonizedSystemCode(self) -> None:
        return None

    def price(self) -> dict[str, Any]:
        return money_bag(self._price, self._order.currency, self._order.presentment_currency)

    def taxLines(self) -> list[dict[str, Any]]:
        return []
