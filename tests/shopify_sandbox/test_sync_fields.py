"""The fields sync tools ask for, answered consistently with each order's money and state (GraphQL and REST)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from integrations.shopify.schema import validate_document
from sandboxes.shopify import ShopifySandbox
from tests.shopify_sandbox.helpers import data

ADDRESS = "firstName lastName address1 city provinceCode countryCodeV2 zip formatted formattedArea id"
MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount }"
SYNC = f"""query($after: String) {{
  currentAppInstallation {{ accessScopes {{ handle }} }}
  shop {{ name billingAddress {{ address1 city countryCodeV2 formatted }} primaryDomain {{ host sslEnabled }}
          url timezoneAbbreviation weightUnit taxesIncluded createdAt contactEmail }}
  orders(first: 5, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      legacyResourceId name number confirmationNumber taxesIncluded taxExempt cancelledAt closedAt
      displayFinancialStatus displayFulfillmentStatus fulfillable restockable canMarkAsPaid
      subtotalLineItemsQuantity currentSubtotalLineItemsQuantity totalWeight currentTotalWeight
      totalPriceSet {{ {MONEY} }} originalTotalPriceSet {{ {MONEY} }} currentTotalPriceSet {{ {MONEY} }}
      currentSubtotalPriceSet {{ {MONEY} }} currentTotalTaxSet {{ {MONEY} }} currentShippingPriceSet {{ {MONEY} }}
      currentTotalDiscountsSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }} currentCartDiscountAmountSet {{ {MONEY} }}
      currentTotalDutiesSet {{ {MONEY} }} originalTotalDutiesSet {{ {MONEY} }} totalTipReceivedSet {{ {MONEY} }}
      totalRefundedSet {{ {MONEY} }} subtotalPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }}
      shippingLine {{ title originalPriceSet {{ {MONEY} }} }}
      discountCode
      discountApplications(first: 2) {{ nodes {{ allocationMethod targetType
        ... on DiscountCodeApplication {{ code value {{ ... on PricingPercentageValue {{ percentage }} }} }} }} }}
      customerJourneySummary {{ ready customerOrderIndex momentsCount {{ count }} }}
      billingAddress {{ {ADDRESS} }} shippingAddress {{ {ADDRESS} }} billingAddressMatchesShippingAddress
      customer {{ id email createdAt tags numberOfOrders amountSpent {{ amount }} addresses {{ {ADDRESS} }}
                  defaultAddress {{ zip }} }}
      statusPageUrl transactionsCount {{ count }}
      lineItems(first: 5) {{ nodes {{ quantity currentQuantity unfulfilledQuantity
        totalDiscountSet {{ {MONEY} }} originalUnitPriceSet {{ {MONEY} }}
        unfulfilledOriginalTotalSet {{ {MONEY} }} unfulfilledDiscountedTotalSet {{ {MONEY} }}
        discountAllocations {{ allocatedAmountSet {{ {MONEY} }}
          discountApplication {{ ... on DiscountCodeApplication {{ code }} }} }}
        duties {{ id }} }} }}
    }}
  }}
}}"""


def _amount(bag: dict[str, Any] | None) -> Decimal:
    return Decimal(bag["shopMoney"]["amount"]) if bag else Decimal("0")


def _all_orders(sandbox: ShopifySandbox) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    orders: list[dict[str, Any]] = []
    after = None
    while True:
        sandbox.control.refill_bucket()  # cost pacing is not what this test is about
        page = data(sandbox, SYNC, {"after": after})
        orders.extend(page["orders"]["nodes"])
        if not page["orders"]["pageInfo"]["hasNextPage"]:
            return page, orders
        after = page["orders"]["pageInfo"]["endCursor"]


def test_sync_fields_are_answered_consistently_with_the_money(shopify_sandbox: ShopifySandbox) -> None:
    assert validate_document(SYNC) == []
    shopify_sandbox.control.touch_order("#1003", tags=["vip"])
    first, orders = _all_orders(shopify_sandbox)
    scopes = [scope["handle"] for scope in first["currentAppInstallation"]["accessScopes"]]
    assert {"read_orders", "write_orders", "read_all_orders"} <= set(scopes)
    assert first["shop"]["billingAddress"]["countryCodeV2"] == "CA"
    assert first["shop"]["primaryDomain"]["host"] == shopify_sandbox.config.shop_domain
    states = set()
    for order in orders:
        name = order["name"]
        assert order["number"] == int(name[1:]) - 1000
        assert _amount(order["originalTotalPriceSet"]) == _amount(order["totalPriceSet"])
        current = _amount(order["currentTotalPriceSet"])
        parts = order["currentSubtotalPriceSet"], order["currentTotalTaxSet"], order["currentShippingPriceSet"]
        assert current == sum((_amount(part) for part in parts), Decimal("0")), name
        assert order["currentTotalPriceSet"]["shopMoney"]["currencyCode"] == "USD"
        lines = order["lineItems"]["nodes"]
        assert order["subtotalLineItemsQuantity"] == sum(line["quantity"] for line in lines)
        assert order["currentSubtotalLineItemsQuantity"] == sum(line["currentQuantity"] for line in lines)
        allocated = [_amount(a["allocatedAmountSet"]) for line in lines for a in line["discountAllocations"]]
        assert sum(allocated, Decimal("0")) == _amount(order["totalDiscountsSet"]), name
        if allocated:
            assert order["discountCode"] == "SAVE10"
            assert order["discountApplications"]["nodes"][0]["value"] == {"percentage": 10.0}
        for line in lines:
            unit = _amount(line["originalUnitPriceSet"])
            assert _amount(line["unfulfilledOriginalTotalSet"]) == unit * line["unfulfilledQuantity"]
            assert _amount(line["unfulfilledDiscountedTotalSet"]) <= unit * line["unfulfilledQuantity"]
            assert line["duties"] == []
        assert order["currentTotalDutiesSet"] is None
        assert order["originalTotalDutiesSet"] is None
        assert order["billingAddress"] == order["shippingAddress"]
        assert order["customer"]["addresses"] == [order["shippingAddress"]]
        assert order["fulfillable"] == any(line["unfulfilledQuantity"] for line in lines)
        if order["cancelledAt"] is not None and order["displayFinancialStatus"] == "REFUNDED":
            assert current == 0
            assert order["currentSubtotalLineItemsQuantity"] == 0
            assert _amount(order["currentTotalDiscountsSet"]) == 0
            states.add("cancelled")
        elif order["displayFinancialStatus"] == "PARTIALLY_REFUNDED":
            refunded = _amount(order["totalRefundedSet"])
            assert current == _amount(order["totalPriceSet"]) - refunded, name
            assert order["currentSubtotalLineItemsQuantity"] == order["subtotalLineItemsQuantity"] - 1
            states.add("partially_refunded")
        else:
            assert current == _amount(order["totalPriceSet"]), name
            assert _amount(order["currentTotalDiscountsSet"]) == _amount(order["totalDiscountsSet"])
    assert states == {"cancelled", "partially_refunded"}
    vip = next(order for order in orders if order["name"] == "#1003")
    assert vip["customer"]["tags"] == ["vip"]
    _rest_agrees(shopify_sandbox, orders, scopes)


def _rest_agrees(sandbox: ShopifySandbox, orders: list[dict[str, Any]], scopes: list[str]) -> None:
    """REST answers the same figures from the same state (one source of truth)."""
    headers = {"X-Shopify-Access-Token": sandbox.config.access_token}
    url = f"{sandbox.base_url}/admin/api/2026-10/orders.json"
    fields = "id,number,current_total_price,current_subtotal_price,current_total_tax,billing_address,total_price"
    rest = httpx.get(url, params={"status": "any", "limit": 250, "fields": fields}, headers=headers).json()["orders"]
    by_id = {order["id"]: order for order in rest}
    assert len(by_id) == len(orders)
    for order in orders:
        mine = by_id[int(order["legacyResourceId"])]
        assert mine["number"] == order["number"]
        assert mine["current_total_price"] == order["currentTotalPriceSet"]["shopMoney"]["amount"]
        assert mine["current_subtotal_price"] == order["currentSubtotalPriceSet"]["shopMoney"]["amount"]
        assert mine["current_total_tax"] == order["currentTotalTaxSet"]["shopMoney"]["amount"]
        assert mine["billing_address"]["zip"] == order["billingAddress"]["zip"]
    rest_scopes = httpx.get(f"{sandbox.base_url}/admin/oauth/access_scopes.json", headers=headers).json()
    assert [scope["handle"] for scope in rest_scopes["access_scopes"]] == scopes
